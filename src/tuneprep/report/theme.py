"""The report's stylesheet (inlined into every report: the file must open offline)."""

CSS = """
:root { --ink:#1f2430; --muted:#6b7280; --line:#e5e7eb; --bg:#f6f7f9; --card:#fff; --accent:#3b6fb6;
        --good:#2f855a; --bad:#c9434b; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font: 14px/1.5 Inter, "Segoe UI", Helvetica, Arial, sans-serif; }
header { background:#1f2a44; color:#fff; padding:22px 40px 0; }
header .brand { font-size:12px; letter-spacing:.14em; text-transform:uppercase; opacity:.7; }
header h1 { margin:4px 0 2px; font-size:22px; font-weight:650; }
header .meta { font-size:12px; opacity:.7; }
nav { display:flex; gap:4px; margin-top:14px; flex-wrap:wrap; }
nav a { color:#dbe4f5; text-decoration:none; padding:8px 12px; font-size:13px; border-radius:6px 6px 0 0; }
nav a:hover { background:rgba(255,255,255,.1); color:#fff; }
main { max-width:1180px; margin:0 auto; padding:10px 40px 30px; }
section { margin-top:26px; }
h2 { font-size:17px; margin:0 0 10px; font-weight:650; }
h3 { font-size:14px; margin:0 0 8px; font-weight:650; }
h4 { font-size:12px; margin:14px 0 6px; color:var(--muted); text-transform:uppercase; letter-spacing:.06em; }
.lead { color:var(--muted); margin:-4px 0 10px; font-size:13px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px;
        margin-bottom:12px; box-shadow:0 1px 2px rgba(16,24,40,.04); overflow-x:auto; }
.card.narrow { max-width:640px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit, minmax(340px, 1fr)); gap:12px; }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(420px, 1fr)); gap:12px; }
.run-head { display:flex; align-items:center; gap:8px; margin-bottom:10px; }
.run-head h3 { margin:0; }
.run-head .model { color:var(--muted); font-size:12px; margin-left:auto; }
.swatch { display:inline-block; width:10px; height:10px; border-radius:3px; }
.tiles { display:grid; grid-template-columns:repeat(3, 1fr); gap:10px; }
.tile { background:#f9fafb; border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.tile-label { font-size:11px; color:var(--muted); text-transform:uppercase; letter-spacing:.06em; }
.tile-value { font-size:26px; font-weight:700; font-variant-numeric:tabular-nums; }
.tile-value .unit { font-size:14px; color:var(--muted); margin-left:1px; }
.ci { font-size:11px; color:var(--muted); font-variant-numeric:tabular-nums; }
.facts { margin-top:10px; font-size:12px; color:var(--muted); }
table { border-collapse:collapse; width:100%; font-size:13px; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:12px; border-bottom:1px solid var(--line);
     padding:6px 8px; vertical-align:bottom; }
th.num { text-align:right; }
th .sub { font-weight:400; font-size:11px; }
td { padding:6px 8px; border-bottom:1px solid #f0f1f3; vertical-align:top; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
td.txt { max-width:420px; }
td.small, .small { font-size:12px; color:var(--muted); }
td.id { font-size:12px; color:var(--muted); white-space:nowrap; }
td.pos, .ok { color:var(--good); font-weight:600; }
td.neg, .bad { color:var(--bad); font-weight:600; }
tr.mc td { color:var(--muted); font-size:12px; background:#fafbfc; }
.muted { color:var(--muted); }
.legend-row { margin-bottom:6px; }
.legend { display:inline-flex; align-items:center; gap:6px; margin-right:16px; font-size:12px; }
svg.chart { display:block; max-width:100%; height:auto; }
table.compact { width:auto; min-width:50%; }
dl.facts-list { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; font-size:12px; margin:10px 0 0; }
dl.facts-list dt { color:var(--muted); }
dl.facts-list dd { margin:0; }
footer { max-width:1180px; margin:0 auto; padding:10px 40px 30px; color:var(--muted); font-size:12px; }
@media print { header { background:#fff; color:var(--ink); } nav { display:none; } .card { break-inside:avoid; } }
"""
