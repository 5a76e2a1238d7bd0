// The status page the metrics port serves at `/`: plain HTML and a script that polls status.json. Every value
// shown comes from sources and the user's configuration, so the script writes text only (textContent,
// setAttribute on SVG numbers), never markup; the Content-Security-Policy allows no other script.

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tributary replication status</title>
<link rel="stylesheet" href="status.css">
<script src="status.js" defer></script>
</head>
<body>
<h1>tributary replication status</h1>
<p id="updated">loading...</p>
<h2>Seconds behind the source, last <span id="window"></span></h2>
<svg id="chart" width="900" height="240" viewBox="0 0 900 240" role="img" aria-label="lag chart"></svg>
<ul id="legend"></ul>
<h2>Channels</h2>
<table id="channels">
<thead><tr><th>channel</th><th>I/O</th><th>SQL</th><th>source</th><th>read</th><th>applied</th><th>relay log</th>
<th>lag (s)</th><th>last errors</th></tr></thead>
<tbody></tbody>
</table>
</body>
</html>
`;

export const STATUS_PAGE_CSS = `body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
table { border-collapse: collapse; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; max-width: 16em; overflow-wrap: anywhere; }
h2 { font-size: 16px; margin-top: 1em; }
th { background: #eee; }
td.yes { background: #d8f5d8; }
td.no { background: #f8d0d0; }
td.connecting { background: #fbeec0; }
td.error { color: #a00; max-width: 30em; white-space: pre-wrap; }
#chart { border: 1px solid #ccc; margin-top: 0.5em; }
#legend { list-style: none; padding: 0; }
#legend li { display: inline-block; margin-right: 1.5em; }
#legend span { display: inline-block; width: 1em; height: 0.6em; margin-right: 0.4em; }
`;

/** Colours of the channels' lines, in the order of the channels. */
export const CHART_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

export const STATUS_PAGE_JS = `'use strict';
const COLOURS = ${JSON.stringify(CHART_COLOURS)};
const SVG = 'http://www.w3.org/2000/svg';
const W = 900, H = 240, LEFT = 50, BOTTOM = 20, TOP = 10;

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function running(value) {
  return String(value).toLowerCase();
}

function errors(c) {
  const parts = [];
  if (c.lastIoErrno) parts.push('I/O ' + c.lastIoErrno + ' at ' + c.lastIoErrorTimestamp + ': ' + c.lastIoError);
  if (c.lastSqlErrno) parts.push('SQL ' + c.lastSqlErrno + ' at ' + c.lastSqlErrorTimestamp + ': ' + c.lastSqlError);
  return parts.join('\\n');
}

function renderTable(channels) {
  const body = document.querySelector('#channels tbody');
  body.replaceChildren();
  for (const c of channels) {
    const row = document.createElement('tr');
    row.dataset.channel = c.channel;
    cell(row, c.channel === '' ? '(default)' : c.channel);
    cell(row, c.ioRunning + (c.ioState ? ' - ' + c.ioState : ''), running(c.ioRunning));
    cell(row, c.sqlRunning + (c.sqlState ? ' - ' + c.sqlState : ''), running(c.sqlRunning));
    cell(row, c.sourceHost + ':' + c.sourcePort + (c.sourceServerId ? ' (server id ' + c.sourceServerId + ')' : ''));
    cell(row, (c.sourceLogFile || '(first binlog)') + ':' + c.readSourceLogPos);
    cell(row, (c.relaySourceLogFile || '(first binlog)') + ':' + c.execSourceLogPos);
    cell(row, c.relayLogFile + ':' + c.relayLogPos);
    cell(row, c.secondsBehindSource === null ? 'unknown' : String(c.secondsBehindSource), 'lag');
    cell(row, errors(c), 'error');
    body.appendChild(row);
  }
}

function span(seconds) {
  return seconds < 120 ? Math.round(seconds) + ' seconds' : Math.round(seconds / 60) + ' minutes';
}

function svg(name, attributes) {
  const element = document.createElementNS(SVG, name);
  for (const key of Object.keys(attributes)) element.setAttribute(key, String(attributes[key]));
  return element;
}

function renderChart(channels, now, windowSeconds) {
  const chart = document.getElementById('chart');
  const legend = document.getElementById('legend');
  chart.replaceChildren();
  legend.replaceChildren();
  let max = 1;
  for (const c of channels) for (const p of c.lag) if (p[1] !== null && p[1] > max) max = p[1];
  const x = (t) => LEFT + (W - LEFT - 5) * (1 - (now - t) / windowSeconds);
  const y = (v) => TOP + (H - TOP - BOTTOM) * (1 - v / max);
  chart.appendChild(svg('line', { x1: LEFT, y1: y(0), x2: W - 5, y2: y(0), stroke: '#999' }));
  chart.appendChild(svg('line', { x1: LEFT, y1: TOP, x2: LEFT, y2: y(0), stroke: '#999' }));
  const label = (text, attributes) => {
    const t = svg('text', Object.assign({ 'font-size': 11, fill: '#555' }, attributes));
    t.textContent = text;
    chart.appendChild(t);
  };
  label(String(max), { x: 4, y: TOP + 10 });
  label('0', { x: 4, y: y(0) });
  label('-' + span(windowSeconds), { x: LEFT, y: H - 4 });
  label('now', { x: W - 30, y: H - 4 });
  channels.forEach((c, i) => {
    const colour = COLOURS[i % COLOURS.length];
    // A gap where the lag was unknown: an unknown lag is not drawn as 0.
    let points = [];
    const flush = () => {
      if (points.length === 1) points.push([points[0][0] + 2, points[0][1]]);
      if (points.length > 1) {
        chart.appendChild(svg('polyline', { points: points.map((p) => p.join(',')).join(' '), fill: 'none',
          stroke: colour, 'stroke-width': 3 }));
      }
      points = [];
    };
    for (const p of c.lag) {
      if (p[1] === null) flush();
      else points.push([x(p[0]).toFixed(1), y(p[1]).toFixed(1)]);
    }
    flush();
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.style.background = colour;
    item.appendChild(swatch);
    item.appendChild(document.createTextNode(c.channel === '' ? '(default)' : c.channel));
    legend.appendChild(item);
  });
}

async function refresh() {
  try {
    const response = await fetch('status.json', { cache: 'no-store' });
    const data = await response.json();
    renderTable(data.channels);
    renderChart(data.channels, data.now, data.windowSeconds);
    document.getElementById('window').textContent = span(data.windowSeconds);
    document.getElementById('updated').textContent = 'updated ' + new Date(data.now * 1000).toISOString();
  } catch (err) {
    document.getElementById('updated').textContent = 'cannot reach the engine: ' + err;
  }
}

refresh();
setInterval(refresh, 2000);
`;
