"""The look of the feedback pages and the class report: one stylesheet, inlined in each page."""

# Okabe-Ito colours stay apart for the common kinds of colour blindness; every state also has a
# symbol and a word, so nothing depends on colour alone.
CSS = """
body { font: 16px/1.55 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       color: #1f2328; background: #fafafa; margin: 0; }
main { max-width: 56rem; margin: 0 auto; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 0; } h2 code { font-size: 1.1rem; }
h3 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
p { margin: .4rem 0; }
code, pre { font: 13.5px/1.45 "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace; }
pre { background: #f3f4f6; border: 1px solid #d8dce0; border-radius: 6px; padding: .75rem;
      overflow-x: auto; white-space: pre; margin: .5rem 0; }
.muted { color: #57606a; }
.summary { background: #fff; border: 1px solid #d8dce0; border-radius: 8px; padding: 1rem 1.25rem;
           margin: 1rem 0 1.5rem; }
.big { font-size: 2rem; font-weight: 700; }
.notice { border-left: 6px solid #D55E00; background: #fdf0e8; padding: .75rem 1rem; border-radius: 4px;
          margin: 1rem 0; }
.notice strong { display: block; }
section.ex { background: #fff; border: 1px solid #d8dce0; border-radius: 8px; padding: 1rem 1.25rem;
             margin: 0 0 1.25rem; }
.ex-head { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem;
           border-bottom: 1px solid #eaecef; padding-bottom: .5rem; }
.ex-score { font-weight: 700; white-space: nowrap; }
.test { border-left: 5px solid #d8dce0; padding: .4rem .9rem; margin: .9rem 0; }
.test-head { display: flex; justify-content: space-between; gap: 1rem; font-weight: 600; }
.points { white-space: nowrap; font-weight: 600; }
.state { display: inline-block; min-width: 6.2rem; font-weight: 700; }
.pass { border-color: #0072B2; } .pass .state { color: #0072B2; }
.partial { border-color: #E69F00; } .partial .state { color: #8a5a00; }
.fail { border-color: #D55E00; } .fail .state { color: #B34700; }
.pending { border-color: #999; } .pending .state { color: #57606a; }
.mistake { display: inline-block; background: #fff4d6; border: 1px solid #E69F00; border-radius: 4px;
           padding: .1rem .5rem; margin: .3rem 0; font-weight: 600; }
figure { margin: .5rem 0; } figure img { max-width: 100%; width: 440px; height: auto; display: block; }
figcaption { font-size: .9rem; color: #57606a; }
.answer { white-space: pre-wrap; background: #f3f4f6; border: 1px solid #d8dce0; border-radius: 6px;
          padding: .75rem; }
details summary { cursor: pointer; color: #0b5394; margin-top: .5rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; background: #fff; }
th, td { border-bottom: 1px solid #eaecef; padding: .35rem .6rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; } td.num, th.num { text-align: right; white-space: nowrap; }
.comment { border-left: 6px solid #0072B2; background: #eef5fb; padding: .6rem 1rem; border-radius: 4px;
           margin: .75rem 0; }
.comment p { white-space: pre-wrap; }
"""
