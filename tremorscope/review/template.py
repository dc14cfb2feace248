"""The report's page: the section list, styles, the table-sorting script and the HTML around the body.

Everything is inline and a Content-Security-Policy forbids every network request, so the file
opens offline, can be mailed or archived, and prints (A4 landscape).
"""

from __future__ import annotations

from tremorscope import __version__
from tremorscope.review.collect import ReportData, _tz_name
from tremorscope.review.html import _e

#: Section ids, in page order (tests and the browser check rely on them).
SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("timeline", "Day timelines"),
    ("distributions", "Distributions"),
    ("trends", "Trends across days"),
    ("episodes", "Episodes"),
    ("diary", "Diary"),
    ("quality", "Data quality"),
    ("method", "How to read this report"),
)


_CSS = """
:root{--ink:#111827;--muted:#4b5563;--line:#e5e7eb;--accent:#1d4ed8}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--ink);
margin:0 auto;max-width:1240px;padding:0 18px 40px}
header{border-bottom:2px solid var(--ink);padding:14px 0 8px;margin-bottom:8px}
h1{font-size:22px;margin:0}h2{font-size:18px;margin:26px 0 8px;border-bottom:1px solid var(--line);
padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px}
.sub{color:var(--muted);margin:2px 0 0}
nav{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid var(--line);z-index:2;
font-size:13px}
nav a{color:var(--accent);margin-right:14px;text-decoration:none}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:10px;margin:10px 0}
.tile{border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.tl{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}.tv{font-size:22px;
font-weight:600}
.ts{color:var(--muted);font-size:12px}
.cols{display:grid;grid-template-columns:minmax(320px,1fr) 1fr;gap:16px;align-items:start}
.facts{margin:0;padding-left:18px}.notes{color:#92400e}
img.fig{max-width:100%;height:auto;display:block;margin:6px 0}img.small{max-width:560px}
figure.day{margin:10px 0 14px}figcaption{font-size:12.5px;color:var(--muted)}
.legend{font-size:12.5px;line-height:1.9}.key{margin-right:12px;white-space:nowrap}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px;
border:1px solid rgba(0,0,0,.15)}
.hint{color:var(--muted);font-size:12.5px}
table{border-collapse:collapse;width:100%;font-size:11.5px;margin:6px 0}
th,td{border-bottom:1px solid var(--line);padding:3px 4px;text-align:left;vertical-align:top}
thead th{background:#f9fafb}
table.num td[data-sort],table.compact td[data-sort]{white-space:nowrap}
td.long{overflow-wrap:anywhere;min-width:12em}
table.num td[data-sort]{text-align:right;font-variant-numeric:tabular-nums}
table.compact{width:auto}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:inherit;
text-align:left}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
.scroll{overflow-x:auto}
.num-badge{display:inline-block;min-width:18px;padding:0 4px;border-radius:9px;color:#fff;
text-align:center;font-weight:600}
code{background:#f3f4f6;padding:0 3px;border-radius:3px}
@page{size:A4 landscape;margin:10mm}
@media print{
 body{max-width:none;padding:0;font-size:11px}nav{display:none}table{font-size:9.5px}
 th,td{padding:2px 3px}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 section{break-before:page}section#overview{break-before:auto}
 figure.day,.tile,tr,img{break-inside:avoid}thead{display:table-header-group}thead th{position:static}
 .scroll{overflow:visible}a{color:inherit;text-decoration:none}
}
"""

_JS = """
(function(){
  function key(td){
    var v = td.getAttribute('data-sort'); if (v === null) v = td.textContent.trim();
    if (v === '') return null;
    var n = Number(v); return isNaN(n) ? v.toLowerCase() : n;
  }
  function cmp(a, b){
    if (a === null) return b === null ? 0 : 1; if (b === null) return -1;
    if (typeof a === typeof b) return a < b ? -1 : a > b ? 1 : 0;
    return typeof a === 'number' ? -1 : 1;
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function(table){
    var heads = table.tHead.rows[0].cells, body = table.tBodies[0];
    Array.prototype.forEach.call(heads, function(th, col){
      var b = document.createElement('button'); b.type = 'button'; b.textContent = th.textContent;
      th.textContent = ''; th.appendChild(b);
      b.addEventListener('click', function(){
        var asc = th.getAttribute('aria-sort') !== 'ascending';
        Array.prototype.forEach.call(heads, function(h){ h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
        var rows = Array.prototype.slice.call(body.rows).map(function(r, i){ return [key(r.cells[col]), i, r];
        });
        rows.sort(function(x, y){
          if (x[0] === null || y[0] === null) return cmp(x[0], y[0]) || x[1] - y[1];
          return (asc ? cmp(x[0], y[0]) : cmp(y[0], x[0])) || x[1] - y[1];
        });
        rows.forEach(function(r){ body.appendChild(r[2]); });
      });
    });
  });
})();
"""


def _page(data: ReportData, body: str) -> str:
    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name in SECTIONS)
    sessions = ", ".join(str(s.id) for s in data.sessions)
    csp = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        "form-action 'none'"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tremorscope {_e(__version__)}">
<meta name="referrer" content="no-referrer">
<title>Tremor and dystonia report: {_e(data.title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>Tremor and dystonia report: {_e(data.title)}</h1>
<p class="sub">Sessions {_e(sessions)} · times in {_e(_tz_name(data.tz))} · tremorscope {_e(__version__)}
· confidential health data</p></header>
<nav>{nav}</nav>
<main>
{body}
</main>
<script>{_JS}</script>
</body>
</html>
"""
