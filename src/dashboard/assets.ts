// The dashboard's one stylesheet and one script, served from memory under /assets/ so the CSP
// can forbid every inline style and script.

export const APP_CSS = `
:root{--bg:#f5f6f8;--card:#fff;--ink:#1d2330;--muted:#667085;--line:#e3e6eb;--accent:#b5561c;
--accent-soft:#fbeee5;--ok:#2f9e6a;--ok-soft:#e6f5ee;--bad:#d1453b;--bad-soft:#fdecea;--warn:#c98a12;
--warn-soft:#fdf4e1;--info:#3f6fd8;--info-soft:#e9f0fd;--violet:#7a4fd0;--violet-soft:#f1ebfc;
--mono:ui-monospace,SFMono-Regular,"DejaVu Sans Mono",Menlo,Consolas,monospace}
*{box-sizing:border-box}
html{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
body{margin:0}
a{color:var(--info);text-decoration:none}a:hover{text-decoration:underline}
code,pre,.mono{font-family:var(--mono);font-size:12.5px}
header.top{display:flex;align-items:center;gap:22px;padding:0 24px;height:52px;background:#1d2330;color:#fff;position:sticky;top:0;z-index:5}
header.top .brand{font-weight:700;letter-spacing:.3px;color:#fff;display:flex;align-items:center;gap:8px;font-size:15px}
header.top .brand svg{display:block}
header.top nav{display:flex;gap:4px;flex:1}
header.top nav a{color:#c5cad3;padding:6px 11px;border-radius:6px}
header.top nav a:hover{background:#2c3445;color:#fff;text-decoration:none}
header.top nav a.active{background:#343d51;color:#fff}
header.top .right{display:flex;align-items:center;gap:14px;color:#c5cad3;font-size:13px}
header.top form{margin:0}
header.top button{background:none;border:1px solid #4a5366;color:#c5cad3;border-radius:6px;padding:4px 10px;cursor:pointer;font:inherit}
.live{display:inline-flex;align-items:center;gap:6px}
.live::before{content:"";width:8px;height:8px;border-radius:50%;background:#7b8394}
.live.on::before{background:#3ecf8e;box-shadow:0 0 0 3px rgba(62,207,142,.25)}
.live.off::before{background:var(--bad)}
main{max-width:1280px;margin:0 auto;padding:22px 24px 60px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:15px;margin:0 0 12px}
.sub{color:var(--muted);margin:0 0 18px}
.row{display:flex;gap:16px;align-items:center;flex-wrap:wrap}
.spread{justify-content:space-between}
.grid{display:grid;gap:16px;align-items:start}
.grid+[data-section="spools"]{margin-top:16px}
.cards{grid-template-columns:repeat(auto-fill,minmax(170px,1fr));margin-bottom:16px}
.two{grid-template-columns:1fr 1fr}
@media (max-width:900px){.two{grid-template-columns:1fr}}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px}
.stat .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.4px}
.stat .value{font-size:26px;font-weight:650;margin-top:4px;font-variant-numeric:tabular-nums}
.stat .note{color:var(--muted);font-size:12px;margin-top:2px}
.stat.good .value{color:var(--ok)}.stat.warn .value{color:var(--warn)}.stat.bad .value{color:var(--bad)}
.fail{color:var(--bad);font-weight:600}
.tabs{display:inline-flex;border:1px solid var(--line);border-radius:8px;overflow:hidden;background:var(--card)}
.tabs a{padding:6px 14px;color:var(--ink);border-right:1px solid var(--line)}
.tabs a:last-child{border-right:0}.tabs a.active{background:var(--accent);color:#fff}
.tabs a:hover{text-decoration:none;background:var(--accent-soft)}.tabs a.active:hover{background:var(--accent)}
svg.chart{width:100%;height:130px;display:block}
svg.chart .ok{fill:#57b98b}svg.chart .bad{fill:var(--bad)}svg.chart .hit{fill:transparent}
svg.chart .hit:hover{fill:rgba(29,35,48,.06)}svg.chart .axis{stroke:var(--line)}
svg.chart .line{fill:none;stroke:var(--accent);stroke-width:2;vector-effect:non-scaling-stroke}
svg.chart .line-dot{fill:var(--accent)}
.chart-scale{display:flex;justify-content:space-between;color:var(--muted);font-size:11.5px;margin-top:4px}
.legend{display:flex;gap:12px;font-size:12px;color:var(--muted)}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.legend .ok{background:#57b98b}.legend .bad{background:var(--bad)}.legend .p95{background:var(--accent)}
svg.meter{width:100%;height:6px;display:block}
svg.meter .track{fill:#eef0f3}svg.meter .ok{fill:#57b98b}svg.meter .bad{fill:var(--bad)}svg.meter .accent{fill:var(--accent)}
table{width:100%;border-collapse:collapse;background:var(--card)}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid var(--line);vertical-align:middle}
th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.3px;background:#fafbfc}
tr:last-child td{border-bottom:0}
tbody tr:hover td{background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.bar{width:28%;vertical-align:middle}
.table-card{background:var(--card);border:1px solid var(--line);border-radius:10px;overflow:auto}
.badge{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11.5px;font-weight:600;letter-spacing:.2px;white-space:nowrap}
.s-SUCCESS{background:var(--ok-soft);color:#1f7a50}.s-DUPLICATE{background:var(--info-soft);color:#2d57b3}
.s-ERROR{background:var(--bad-soft);color:#b3362d}.s-INVALID{background:var(--warn-soft);color:#94650b}
.s-CONFLICT{background:var(--violet-soft);color:var(--violet)}.s-UNAUTHORIZED{background:#eceef2;color:#4b5365}
.s-RECEIVED,.s-PROCESSING{background:#fff7d6;color:#8a6a00}
.s-firing{background:var(--bad-soft);color:#b3362d}.s-ok{background:var(--ok-soft);color:#1f7a50}
.s-failure{background:var(--bad-soft);color:#b3362d}.s-success{background:var(--ok-soft);color:#1f7a50}.s-pending{background:#eceef2;color:#4b5365}
form.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-end;margin-bottom:14px;background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:3px}
input,select,button{font:inherit}
input[type=text],input[type=search],input[type=password],input[type=datetime-local],select{border:1px solid #cfd4dc;border-radius:6px;padding:6px 8px;background:#fff;color:var(--ink);min-width:0}
input:focus,select:focus{outline:2px solid rgba(181,86,28,.35);border-color:var(--accent)}
.btn{background:var(--accent);color:#fff;border:0;border-radius:6px;padding:7px 14px;cursor:pointer;font-weight:600}
.btn:hover{filter:brightness(1.07)}.btn.ghost{background:#fff;color:var(--ink);border:1px solid #cfd4dc;font-weight:500}
.btn.small{padding:3px 10px;font-size:12.5px}
.btn[disabled]{opacity:.45;cursor:not-allowed}
.pager{display:flex;justify-content:space-between;margin-top:12px;color:var(--muted)}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:6px 18px;margin:0}
.kv dt{color:var(--muted)}.kv dd{margin:0;word-break:break-all}
pre{background:#f7f8fa;border:1px solid var(--line);border-radius:8px;padding:10px 12px;overflow:auto;max-height:520px;margin:0;white-space:pre-wrap;word-break:break-word}
.alert{border-radius:8px;padding:10px 14px;margin-bottom:14px;border:1px solid}
.alert.bad{background:var(--bad-soft);border-color:#f3c1bc;color:#8f2a22}
.alert.ok{background:var(--ok-soft);border-color:#b8e2cd;color:#1f6a46}
.alert.info{background:var(--info-soft);border-color:#c5d6f8;color:#244a99}
.chips{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:14px}
.chip{border:1px solid var(--line);background:var(--card);border-radius:999px;padding:4px 12px;color:var(--ink)}
.chip b{margin-left:6px;color:var(--bad)}.chip.active{border-color:var(--accent);background:var(--accent-soft)}
h2.gap{margin-top:18px}
.muted{color:var(--muted)}.nowrap{white-space:nowrap}.right{text-align:right}
.empty{padding:28px;text-align:center;color:var(--muted)}
.timeline{display:flex;flex-direction:column;gap:12px;max-width:980px}
.msg{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 16px}
.msg .who{display:flex;justify-content:space-between;gap:10px;font-size:12px;color:var(--muted);margin-bottom:6px}
.msg .who b{color:var(--ink);font-size:13px}
.msg.user{border-left:4px solid var(--info);background:#fbfcff}
.msg.assistant{border-left:4px solid var(--accent)}
.msg .text{white-space:pre-wrap;word-break:break-word}
.md p{margin:.35em 0}.md pre{margin:.5em 0}.md h3,.md h4,.md h5,.md h6{margin:.7em 0 .3em}
.md code{background:#f1f2f5;border-radius:4px;padding:1px 4px}.md pre code{background:none;padding:0}
.md blockquote{margin:.5em 0;padding:0 12px;border-left:3px solid var(--line);color:#444c5c}
.md table{width:auto;margin:.5em 0;border:1px solid var(--line)}.md ul,.md ol{margin:.35em 0;padding-left:22px}
details.tool{background:var(--card);border:1px solid var(--line);border-radius:10px;margin-left:28px}
details.tool>summary{cursor:pointer;padding:8px 14px;display:flex;gap:10px;align-items:center;list-style:none}
details.tool>summary::-webkit-details-marker{display:none}
details.tool>summary::before{content:"▸";color:var(--muted);width:10px}
details.tool[open]>summary::before{content:"▾"}
details.tool .body{padding:0 14px 12px;display:grid;gap:8px}
details.tool .label{font-size:11.5px;color:var(--muted);text-transform:uppercase;letter-spacing:.3px}
details.tool.failure{border-color:#f0b4ae;background:#fff8f7}
.tool-name{font-weight:600}.tool-brief{color:var(--muted);font-family:var(--mono);font-size:12px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;flex:1}
.tokens{font-size:12px;color:var(--muted);margin-top:8px;font-variant-numeric:tabular-nums}
details.agent{border:1px dashed var(--line);border-left:3px solid var(--accent,#6b5bd2);border-radius:10px;margin-left:56px;background:var(--card)}
details.agent>summary{cursor:pointer;padding:8px 14px;display:flex;gap:10px;align-items:center;list-style:none}
details.agent>summary::-webkit-details-marker{display:none}
details.agent>summary::before{content:"▸";color:var(--muted);width:10px}
details.agent[open]>summary::before{content:"▾"}
details.agent .agent-body{padding:0 14px 12px 0;display:grid;gap:10px}
.agent-type{font-weight:600}
.cost{font-variant-numeric:tabular-nums}
.unpriced{color:#b45309}
.login{max-width:380px;margin:12vh auto;background:var(--card);border:1px solid var(--line);border-radius:12px;padding:28px}
.login h1{display:flex;gap:8px;align-items:center}.login label{display:block;margin:14px 0 6px;color:var(--muted)}
.login input{width:100%}.login .btn{width:100%;margin-top:16px;padding:9px}
.stages{display:grid;grid-template-columns:max-content 1fr max-content;gap:6px 12px;align-items:center}
header.top form.search{margin:0;flex:0 1 240px;min-width:0}
header.top form.search input{width:100%;background:#2c3445;border:1px solid #4a5366;color:#fff;border-radius:6px;padding:5px 9px}
header.top form.search input::placeholder{color:#9aa2b1}
.msg,details.tool{scroll-margin-top:72px}
.msg.hit,details.tool.hit,.msg:target,details.tool:target{outline:3px solid var(--warn);outline-offset:2px;box-shadow:0 0 0 6px var(--warn-soft)}
mark{background:#ffe58a;color:inherit;border-radius:2px;padding:0 1px}
ol.hits{list-style:none;margin:0;padding:0;display:grid;gap:10px;max-width:980px}
.hit-row .who{display:flex;flex-wrap:wrap;gap:10px;align-items:center;font-size:12.5px;margin-bottom:6px}
.hit-row .snippet{display:block;color:var(--ink);white-space:pre-wrap;word-break:break-word}
pre.diff .add{background:#e6f5ee;color:#1f6a46}pre.diff .del{background:#fdecea;color:#8f2a22}
pre.diff span{display:block}pre.stderr{border-color:#f3c1bc;background:#fff8f7}
details.raw>summary{cursor:pointer;color:var(--muted);font-size:12px}
.actions{gap:8px}
@media (max-width:700px){
header.top{flex-wrap:wrap;height:auto;gap:8px 12px;padding:8px 12px;position:static}
header.top nav{flex:1 1 100%;flex-wrap:wrap;order:3}
header.top nav a{padding:4px 8px}
header.top form.search{flex:1 1 140px}
main{padding:14px 12px 40px}
.msg,details.tool{scroll-margin-top:8px}
details.tool{margin-left:0}
details.tool>summary{flex-wrap:wrap}
.tool-brief{flex-basis:100%;order:5}
.grid,.grid>*{min-width:0}
.cards{grid-template-columns:repeat(auto-fill,minmax(140px,1fr))}
.kv{grid-template-columns:1fr}
h1{font-size:18px;word-break:break-word}
}
body.export header.top{display:none}
`;

export const APP_JS = `"use strict";
(function () {
  document.querySelectorAll("[data-select-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name=id]").forEach(function (item) {
        if (!item.disabled) item.checked = box.checked;
      });
    });
  });
  var dot = document.getElementById("live-dot");
  if (!window.EventSource || !dot) return;
  var source = new EventSource("/stream");
  source.addEventListener("open", function () { dot.className = "live on"; dot.textContent = "live"; });
  source.addEventListener("error", function () { dot.className = "live off"; dot.textContent = "reconnecting"; });
  var region = document.querySelector("[data-live]");
  if (!region) return;
  var timer = null, busy = false, again = false, version = 0;
  function schedule() {
    if (timer === null) timer = setTimeout(function () { timer = null; refresh(); }, 250);
  }
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(region.getAttribute("data-live"), { credentials: "same-origin" }).then(function (res) {
      if (res.status === 401) {
        location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
        return;
      }
      if (res.ok) return res.text().then(function (markup) {
        region.innerHTML = markup;
        region.setAttribute("data-version", String(++version));
      });
    }).catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; schedule(); }
    });
  }
  source.addEventListener("audit", schedule);
  // After a reconnect, events may have been missed: refresh once.
  var opened = 0;
  source.addEventListener("open", function () { if (opened++ > 0) schedule(); });
  var every = Number(region.getAttribute("data-live-every") || 0);
  if (every > 0) setInterval(schedule, every);
})();
`;

/** The tab icon: the header's mark, so browsers stop logging a 404 for /favicon.ico. */
export const FAVICON_SVG =
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1d2330"/><path d="M6 22c4-9 8-13 10-13s6 4 10 13" fill="none" stroke="#e8893f" stroke-width="3" stroke-linecap="round"/></svg>`;
