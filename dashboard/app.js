/*
 * The gasp dashboard page: polls /api/overview and draws it. Every text that comes from the
 * database goes in through textContent, or into ECharts' canvas with plain-text tooltips, never
 * as HTML: a module named <script> shows as those characters.
 */
'use strict';

const POLL_MS = 5000;
// `new` is GASP's (its client made a Ganga job, not yet submitted): shown only where a pass has it
const STATUSES = [
  'waiting',
  'new',
  'submitted',
  'running',
  'completed',
  'failed',
  'partFail',
  'unsatisfied',
  'canceled',
  'deleted',
];
const COLORS = {
  waiting: '#b0b8c1',
  new: '#12b5cb',
  submitted: '#8ab4f8',
  running: '#2f6fdb',
  completed: '#34a853',
  failed: '#d93025',
  partFail: '#f29900',
  unsatisfied: '#9334e6',
  canceled: '#5f6368',
  deleted: '#dadce0',
};

let mode = new URLSearchParams(location.search).get('mode');
const charts = {};

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className !== undefined) node.className = className;
  return node;
}

/** A table from rows of cells; a cell is text, or { text, className }. */
/** A site's grid proxy: hours left, marked when it claims nothing for it (below what a job may run, or unreadable). */
function proxyCell(proxy) {
  if (proxy === null || proxy === undefined) return '';
  const left = proxy.hours_left === null ? 'unreadable' : `${proxy.hours_left} h left`;
  const blocked = proxy.hours_left === null || proxy.hours_left < proxy.needed_hours;
  return blocked
    ? { text: `${left}: CLAIMS NOTHING (a job may need ${proxy.needed_hours} h)`, className: 'warn' }
    : left;
}

function fillTable(id, headers, rows, emptyText) {
  const table = document.getElementById(id);
  table.replaceChildren();
  const head = element('tr');
  headers.forEach((header) => head.append(element('th', header.text ?? header, header.number ? 'number' : undefined)));
  table.append(head);
  if (rows.length === 0) {
    const row = element('tr');
    const cell = element('td', emptyText, 'empty');
    cell.colSpan = headers.length;
    row.append(cell);
    table.append(row);
    return;
  }
  for (const cells of rows) {
    const row = element('tr');
    cells.forEach((cell, index) => {
      const value = typeof cell === 'object' && cell !== null ? cell : { text: cell };
      row.append(element('td', value.text, value.className ?? (headers[index].number ? 'number' : undefined)));
    });
    table.append(row);
  }
}

function chart(id) {
  if (charts[id] === undefined) charts[id] = echarts.init(document.getElementById(id), null, { renderer: 'canvas' });
  return charts[id];
}

const TOOLTIP = { trigger: 'axis', renderMode: 'richText', axisPointer: { type: 'shadow' } };

/** A stacked bar per name (label or module), one series per status present. */
function stackedByStatus(id, items, nameOf, horizontal) {
  const names = items.map(nameOf);
  const present = STATUSES.filter((status) => items.some((item) => (item.byStatus[status] ?? 0) > 0));
  const category = {
    type: 'category',
    data: names,
    axisLabel: {
      interval: 0,
      width: horizontal ? 160 : Math.max(60, 640 / Math.max(names.length, 1)),
      overflow: 'truncate',
      hideOverlap: true,
    },
  };
  const value = { type: 'value', minInterval: 1 };
  chart(id).setOption(
    {
      animation: false,
      tooltip: TOOLTIP,
      legend: { top: 0, type: 'scroll' },
      grid: { top: 32, left: 8, right: 16, bottom: 8, containLabel: true },
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? { ...category, inverse: true } : value,
      series: present.map((status) => ({
        type: 'bar',
        name: status,
        stack: 'passes',
        color: COLORS[status],
        barMaxWidth: 48,
        data: items.map((item) => item.byStatus[status] ?? 0),
      })),
    },
    true,
  );
}

function drawThroughput(throughput) {
  chart('chart-throughput').setOption(
    {
      animation: false,
      tooltip: { trigger: 'axis', renderMode: 'richText' },
      grid: { top: 16, left: 8, right: 16, bottom: 8, containLabel: true },
      xAxis: {
        type: 'category',
        data: throughput.map((point) => `${point.hour.slice(5, 10)} ${point.hour.slice(11)}h`),
        boundaryGap: false,
      },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        {
          type: 'line',
          name: 'completed',
          data: throughput.map((point) => point.completed),
          areaStyle: { opacity: 0.15 },
          showSymbol: false,
          color: COLORS.completed,
        },
      ],
    },
    true,
  );
}

function drawFailures(failures) {
  const sites = [...new Set(failures.map((failure) => failure.site))];
  const codes = [...new Set(failures.map((failure) => failure.exitCode))];
  chart('chart-failures').setOption(
    {
      animation: false,
      tooltip: TOOLTIP,
      legend: { top: 0, type: 'scroll', formatter: (name) => `exit ${name}` },
      grid: { top: 32, left: 8, right: 16, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: sites },
      yAxis: { type: 'value', minInterval: 1 },
      series: codes.map((code) => ({
        type: 'bar',
        name: code,
        stack: 'failures',
        data: sites.map((site) =>
          failures
            .filter((failure) => failure.site === site && failure.exitCode === code)
            .reduce((sum, failure) => sum + failure.passes, 0),
        ),
      })),
      graphic:
        failures.length === 0
          ? [
              {
                type: 'text',
                left: 'center',
                top: 'middle',
                style: { text: 'no failed passes', fill: '#6b7785', fontSize: 14 },
              },
            ]
          : [],
    },
    true,
  );
}

function drawEvents(labels) {
  const asked = labels.filter((label) => label.events.requested > 0);
  chart('chart-events').setOption(
    {
      animation: false,
      tooltip: TOOLTIP,
      legend: { top: 0 },
      grid: { top: 32, left: 8, right: 16, bottom: 8, containLabel: true },
      xAxis: { type: 'value' },
      yAxis: {
        type: 'category',
        data: asked.map((label) => label.label),
        inverse: true,
        axisLabel: { width: 140, overflow: 'truncate' },
      },
      series: [
        {
          type: 'bar',
          name: 'requested',
          color: '#b0b8c1',
          barMaxWidth: 24,
          data: asked.map((label) => label.events.requested),
        },
        {
          type: 'bar',
          name: 'produced',
          color: COLORS.completed,
          barMaxWidth: 24,
          data: asked.map((label) => label.events.produced),
        },
      ],
    },
    true,
  );
}

function drawTotals(data) {
  const totals = document.getElementById('totals');
  totals.replaceChildren();
  const boxes = [
    ['passes', data.totals.passes],
    ...STATUSES.filter((status) => (data.totals.byStatus[status] ?? 0) > 0).map((status) => [
      status,
      data.totals.byStatus[status],
    ]),
  ];
  for (const [name, number] of boxes) {
    const box = element('div', undefined, 'total');
    box.dataset.total = name;
    box.append(element('div', number.toLocaleString('en'), 'number'), element('div', name, 'name'));
    totals.append(box);
  }
}

const percent = (part, whole) => (whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`);

function draw(data) {
  drawTotals(data);
  stackedByStatus('chart-labels', data.labels, (item) => item.label, true);
  stackedByStatus('chart-modules', data.modules, (item) => item.module, false);
  drawThroughput(data.throughput);
  drawFailures(data.failures);
  drawEvents(data.labels);
  fillTable(
    'sites',
    [
      'site',
      'mode',
      'state',
      { text: 'heartbeat', number: true },
      { text: 'held', number: true },
      'grid proxy',
      'note',
    ],
    data.sites.map((site) => [
      site.leads ? `${site.site} *` : site.site,
      site.mode,
      { text: site.state, className: `state-${site.state}` },
      `${site.heartbeatAgeSeconds} s ago`,
      site.held,
      proxyCell(site.proxy),
      site.quarantined === null
        ? site.leads
          ? 'leads'
          : ''
        : { text: `QUARANTINED ${site.quarantined}`, className: 'warn' },
    ]),
    'no site has run a client on this database',
  );
  fillTable(
    'paused',
    ['label', 'since', 'why'],
    data.labels
      .filter((label) => label.paused !== null)
      .map((label) => [label.label, label.paused.since, `${label.paused.reason} (${label.paused.by})`]),
    'no label is paused',
  );
  fillTable(
    'notifications',
    ['about', 'when', 'what', 'sent'],
    data.notifications.map((last) => [last.about, last.claimed, last.title, last.receivers.join(', ')]),
    'no notification yet',
  );
  const global = document.getElementById('why-global');
  // "no client runs" matters only when something waits
  global.replaceChildren(...(data.waiting.judged === 0 ? [] : data.waiting.global).map((line) => element('li', line)));
  document.getElementById('why-judged').textContent =
    data.waiting.judged === 0 ? '' : `(the first ${data.waiting.judged} ready passes, at every active site)`;
  fillTable(
    'why',
    ['reason', { text: 'passes', number: true }],
    data.waiting.reasons.slice(0, 10).map((reason) => [reason.reason, reason.passes]),
    'no pass is waiting',
  );
  const columns = STATUSES.filter(
    (status) => status !== 'new' || data.labels.some((label) => (label.byStatus.new ?? 0) > 0),
  );
  fillTable(
    'labels',
    [
      'label',
      { text: 'passes', number: true },
      ...columns.map((status) => ({ text: status, number: true })),
      { text: 'events', number: true },
      { text: 'of requested', number: true },
    ],
    data.labels.map((label) => [
      label.label,
      label.passes,
      ...columns.map((status) => label.byStatus[status] ?? 0),
      label.events.produced,
      percent(label.events.produced, label.events.requested),
    ]),
    'no passes yet',
  );
  const status = document.getElementById('status');
  status.className = '';
  status.textContent = `${data.database} · updated ${new Date(data.generated).toLocaleTimeString()}`;
  document.body.dataset.ready = 'true';
}

async function refresh() {
  try {
    const response = await fetch(`/api/overview?mode=${encodeURIComponent(mode)}`, { cache: 'no-store' });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error ?? response.statusText);
    draw(data);
  } catch (error) {
    const status = document.getElementById('status');
    status.className = 'error';
    status.textContent = `cannot read the database (${error.message}); showing the last numbers`;
  }
}

async function start() {
  const { modes } = await (await fetch('/api/modes')).json();
  if (!modes.includes(mode)) mode = modes[0];
  const nav = document.getElementById('modes');
  for (const name of modes) {
    const button = element('button', name);
    button.setAttribute('aria-pressed', String(name === mode));
    button.addEventListener('click', () => {
      mode = name;
      for (const other of nav.children) other.setAttribute('aria-pressed', String(other === button));
      history.replaceState(null, '', `?mode=${encodeURIComponent(mode)}`);
      refresh();
    });
    nav.append(button);
  }
  await refresh();
  setInterval(refresh, POLL_MS);
  window.addEventListener('resize', () => Object.values(charts).forEach((one) => one.resize()));
}

start();
