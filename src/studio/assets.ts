/** The studio's only front-end assets: one stylesheet and a few lines of script (no build step). */
export const STUDIO_CSS = `
:root { --bg: #f6f7fb; --fg: #1d2130; --muted: #6b7089; --line: #e1e4ee; --accent: #5865f2; --accent2: #2fb37a;
  --accent3: #f0a020; --card: #fff; --bad: #d83c3e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg);
  color: var(--fg); }
header { display: flex; align-items: center; gap: 18px; padding: 10px 20px; background: #1e1f2b; color: #fff; }
header a { color: #c9cdf7; text-decoration: none; }
header a.brand { color: #fff; font-weight: 700; letter-spacing: .3px; }
header nav { display: flex; gap: 14px; flex: 1; }
header nav a.active { color: #fff; border-bottom: 2px solid var(--accent); }
.mode { font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #2e3042; }
.mode.write { background: var(--bad); color: #fff; }
main { padding: 14px 20px 40px; max-width: 1280px; }
h1 { font-size: 20px; margin: 4px 0 12px; }
h2 { font-size: 15px; margin: 0 0 8px; }
a { color: var(--accent); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12.5px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card.wide { grid-column: 1 / -1; }
.cards.split { grid-template-columns: minmax(260px, 1fr) 2fr; }
.stats { display: flex; gap: 12px; margin-bottom: 12px; flex-wrap: wrap; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 130px;
  }
.stat b { display: block; font-size: 20px; }
.stat span { color: var(--muted); font-size: 12px; }
table.grid { border-collapse: collapse; width: 100%; background: var(--card); }
table.grid th, table.grid td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left;
  vertical-align: top; max-width: 420px; overflow-wrap: break-word; }
table.grid th { background: #eef0f7; font-weight: 600; white-space: nowrap; }
td.null { color: var(--muted); font-style: italic; }
.empty, .muted { color: var(--muted); }
.error { color: var(--bad); }
.notice { background: #e7f7ef; border: 1px solid var(--accent2); border-radius: 6px; padding: 6px 10px; }
.granted { color: var(--accent2); font-weight: 600; white-space: nowrap; }
.denied { white-space: nowrap; }
ol.steps { margin: 0; padding-left: 18px; }
h2.spaced { margin-top: 16px; }
.stats { margin-top: 10px; }
#changed { margin-bottom: 8px; }
.denied { color: var(--bad); }
.tree { list-style: none; padding-left: 0; margin: 0; }
.tree ul { list-style: none; padding-left: 18px; margin: 2px 0 6px; }
.tree li { padding: 1px 0; }
.category { text-transform: uppercase; font-size: 12px; color: var(--muted); font-weight: 700; margin-top: 6px; }
.kind { font-size: 11px; color: var(--muted); margin-left: 6px; }
.perm { white-space: nowrap; display: inline-block; font-size: 11px; padding: 0 6px; margin: 1px 2px;
  border-radius: 8px; background: #eef0ff; color: #3b44b0; }
.msg { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px;
  margin-bottom: 8px; }
.msg .meta { color: var(--muted); font-size: 12px; }
.msg .content { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }
.reaction { display: inline-block; border: 1px solid var(--line); border-radius: 10px; padding: 0 7px;
  margin-right: 4px; font-size: 12px; }
.thread { font-size: 12px; margin-top: 4px; }
form.filters { margin: 8px 0 12px; }
details.filters { margin: 8px 0 12px; background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 6px 12px; }
details.filters summary { cursor: pointer; font-weight: 600; }
.card { overflow-x: auto; }
form.filters table td { padding: 2px 4px; }
form.inline { display: inline; }
input, select, button { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 5px;
  background: #fff; }
select { max-width: 340px; }
button { background: var(--accent); color: #fff; border: 0; cursor: pointer; }
button.danger { background: var(--bad); }
.pager { margin: 10px 0; display: flex; gap: 14px; }
svg.chart { width: 100%; height: auto; display: block; }
svg.chart text { font-size: 10px; fill: var(--muted); }
svg.chart line.grid { stroke: var(--line); }
svg.chart .s0, svg.chart .s1, svg.chart .s2 { fill: none; stroke-width: 2; }
svg.chart .s0 { stroke: var(--accent); } svg.chart .s1 { stroke: var(--accent2); } svg.chart .s2 {
  stroke: var(--accent3); }
svg.chart .d0, svg.chart .b0 { fill: var(--accent); } svg.chart .d1, svg.chart .b1 { fill: var(--accent2);
  } svg.chart .d2, svg.chart .b2 { fill: var(--accent3); }
.legend { font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; }
.legend i.c0 { background: var(--accent); } .legend i.c1 { background: var(--accent2); } .legend i.c2 {
  background: var(--accent3); }
.health-ok { color: var(--accent2); font-weight: 700; } .health-warning { color: var(--accent3); font-weight: 700;
  } .health-critical { color: var(--bad); font-weight: 700; }
`;

export const STUDIO_JS = `
document.addEventListener('submit', function (event) {
  var form = event.target;
  var question = form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) { event.preventDefault(); return; }
  if (form.method.toLowerCase() === 'get') {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      if (el.name.indexOf('op.') === 0) {
        var value = form.elements['f.' + el.name.slice(3)];
        if (el.value !== 'null' && el.value !== 'notnull' && (!value || value.value === '')) el.disabled = true;
      } else if (el.value === '') el.disabled = true;
    });
  }
});
document.addEventListener('change', function (event) {
  var el = event.target;
  if (el.hasAttribute && el.hasAttribute('data-autosubmit')) el.form.requestSubmit();
});
`;
