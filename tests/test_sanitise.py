"""The executed notebooks in autograded/ are safe to render: what a student wrote or printed runs no
script in the instructor's browser, in formgrader's own page or anywhere else, and keeps its text and images."""
import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from autograde.outputs.records import SubmissionResult
from autograde.outputs.results import write_executed
from autograde.outputs.sanitise import sanitise_markdown, sanitise_notebook, sanitise_output

PNG = base64.b64encode(bytes.fromhex(  # a 1x1 PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000" "1f15c4890000000d49444154789c6360f8cf"
    "c0f01f0005000201" "a3f6c1a60000000049454e44ae426082")).decode()
SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4">'
       '<script>alert(1)</script><rect width="4" height="4"/></svg>')


def answer(source: str):
    """A written answer as the grader writes it: a markdown cell with the course's nbgrader metadata."""
    return new_markdown_cell(source, metadata={"nbgrader": {"grade_id": "written_wd_vs_l2", "solution": True,
                                                             "grade": True, "locked": False, "points": 2}})


def displayed(data: dict, metadata=None):
    return new_output("display_data", data=data, metadata=metadata or {})


def rendered(markdown: str) -> str:
    """The sanitised markdown as formgrader's template renders it (nbconvert's markdown2html)."""
    return markdown2html_mistune(sanitise_markdown(markdown))


# --- markdown: written answers and text/markdown outputs --------------------------------------------


def test_plain_markdown_is_kept_byte_for_byte():
    text = ("Decoupled decay *shrinks* the weights: $w \\leftarrow w - \\eta\\lambda w$, and $a<b$.\n\n"
            "- `x<y` in code\n- a [paper](https://arxiv.org/abs/1711.05101)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert sanitise_markdown(text) == text


def test_raw_html_with_onerror_keeps_the_image_and_text_and_loses_the_handler():
    html = rendered("Weight decay <img src=x onerror=\"document.title='ran'\"> is **not** L2.")
    assert "onerror" not in html and "document.title" not in html
    assert '<img src="x">' in html and "Weight decay" in html and "<strong>not</strong> L2." in html


def test_a_script_element_goes_with_its_content():
    html = rendered("Before\n\n<script>document.title='ran'</script>\n\nAfter")
    assert "<script" not in html and "document.title" not in html
    assert "Before" in html and "After" in html


@pytest.mark.parametrize("markdown", [
    "[click](javascript:alert(1))",
    "[click](JaVa&#x53;cript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "[click][r]\n\n[r]: javascript:alert(1)",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html,<script>alert(1)</script>)",
])
def test_script_links_in_markdown_syntax_lose_their_target(markdown):
    html = rendered(markdown)
    assert "<a" in html and "href" not in html  # the link's text stays, as a link to nowhere


def test_ordinary_links_and_images_are_kept():
    text = "[notes](https://example.org/a?b=1) and [section](#momentum) ![plot](data:image/png;base64," + PNG + ")"
    assert sanitise_markdown(text) == text


def test_an_iframe_is_removed():
    html = rendered('See <iframe src="javascript:alert(1)"></iframe> here')
    assert "iframe" not in html and "javascript" not in html and "See" in html and "here" in html


def test_an_svg_with_script_in_markdown_is_removed():
    html = rendered("Plot: " + SVG)
    assert "<svg" not in html and "alert" not in html and "Plot:" in html


def test_a_mermaid_block_is_not_copied_raw():
    html = rendered("```mermaid\n<img src=x onerror=alert(1)>\n```")
    assert "onerror" not in html


def test_sanitised_markdown_is_one_html_block_that_no_renderer_reads_markdown_from():
    source = sanitise_markdown("<div>\n\n[x](javascript:alert(1))\n\n</div>")
    assert "\n" not in source and source.startswith("<div>")
    assert "javascript" not in markdown2html_mistune(source)


def test_text_markdown_output_is_sanitised_like_a_cell():
    out = displayed({"text/markdown": "**hi** <img src=x onerror=alert(1)>", "text/plain": "hi"})
    sanitise_output(out)
    assert out["data"]["text/markdown"] == '<div><p><strong>hi</strong> <img src="x"></p>&#10;</div>'
    assert out["data"]["text/plain"] == "hi"


# --- outputs ---------------------------------------------------------------------------------------


def test_html_output_loses_script_and_handlers_and_keeps_its_table():
    out = displayed({"text/html": '<table border="1" class="dataframe"><tr><td>0.5</td></tr></table>'
                                  "<script>document.title='ran'</script><img src=x onerror=alert(1)>",
                     "text/plain": "   a\n0  0.5"})
    sanitise_output(out)
    assert out["data"] == {"text/html": '<table border="1"><tbody><tr><td>0.5</td></tr></tbody></table><img src="x">',
                           "text/plain": "   a\n0  0.5"}


def test_html_output_cannot_take_formgraders_ids_or_classes():
    out = displayed({"text/html": '<input id="written_wd_vs_l2" class="score tabbable">'
                                  '<span id="x" class="y">z</span>'})
    sanitise_output(out)
    assert out["data"]["text/html"] == "<span>z</span>"


@pytest.mark.parametrize("mime", ["application/javascript", "text/javascript",
                                  "application/vnd.jupyter.widget-view+json", "application/vnd.plotly.v1+json"])
def test_active_output_types_are_dropped_and_text_is_kept(mime):
    out = displayed({mime: "document.title='ran'", "text/plain": "<IPython.core.display.Javascript object>"})
    sanitise_output(out)
    assert out["data"] == {"text/plain": "<IPython.core.display.Javascript object>"}


def test_an_output_left_empty_says_what_was_removed():
    out = displayed({"application/javascript": "alert(1)"})
    sanitise_output(out)
    note = "[autograde removed this output (application/javascript): it could run script]"
    assert out["data"] == {"text/plain": note}


def test_svg_becomes_an_image_that_runs_no_script():
    out = displayed({"image/svg+xml": SVG, "text/plain": "<Figure size 4x4>"})
    sanitise_output(out)
    src = f"data:image/svg+xml;base64,{base64.b64encode(SVG.encode()).decode()}"
    assert out["data"] == {"text/html": f'<img src="{src}">', "text/plain": "<Figure size 4x4>"}


def test_images_latex_and_text_are_kept_as_they_are():
    data = {"image/png": PNG, "image/jpeg": PNG, "text/latex": "$x<y$", "text/plain": "<Figure>"}
    out = displayed(dict(data), metadata={"image/png": {"width": 300, "height": 200}})
    sanitise_output(out)
    assert out["data"] == data and out["metadata"] == {"image/png": {"width": 300, "height": 200}}


def test_image_data_that_is_not_base64_is_dropped():
    out = displayed({"image/png": '" onerror="alert(1)', "text/plain": "<Figure>"})
    sanitise_output(out)
    assert out["data"] == {"text/plain": "<Figure>"}


def test_image_sizes_that_are_not_numbers_are_dropped():
    # nbconvert writes width={{ width }} without quotes: "1 onerror=alert(1)" would be an attribute
    out = displayed({"image/png": PNG}, metadata={"image/png": {"width": "1 onerror=alert(1)", "height": 5},
                                                  "filenames": {"image/png": "javascript:alert(1)"}})
    sanitise_output(out)
    assert out["metadata"] == {"image/png": {"height": 5}}


def test_streams_and_errors_are_untouched():
    nb = new_notebook(cells=[new_code_cell("print(1)", outputs=[
        new_output("stream", name="stdout", text="<script>alert(1)</script>\n"),
        new_output("error", ename="ValueError", evalue="<b>x</b>", traceback=["<b>x</b>"])])])
    assert sanitise_notebook(nb) == nb


# --- cells and notebook metadata -------------------------------------------------------------------


def test_grade_metadata_and_plain_answers_are_untouched():
    nb = new_notebook(cells=[answer("Decoupled decay shrinks the weights directly."),
                             new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "t", "grade": True,
                                                                         "points": 2, "solution": False}})])
    assert sanitise_notebook(nb) == nb


def test_an_answer_keeps_its_grade_metadata_when_sanitised():
    nb = new_notebook(cells=[answer("<img src=x onerror=alert(1)>")])
    cell = sanitise_notebook(nb)["cells"][0]
    assert cell["metadata"] == nb.cells[0]["metadata"] and "onerror" not in cell["source"]


def test_attachments_keep_raster_images_only():
    cell = answer("![plot](attachment:plot.png) ![v](attachment:v.svg)")
    cell["attachments"] = {"plot.png": {"image/png": PNG}, "v.svg": {"image/svg+xml": SVG}}
    out = sanitise_notebook(new_notebook(cells=[cell]))["cells"][0]
    assert out["attachments"] == {"plot.png": {"image/png": PNG}}
    html = markdown2html_mistune(out["source"])
    assert f'src="data:image/png;base64,{PNG}"' in html and "<svg" not in html and 'alt="v"' in html


def test_an_image_of_a_missing_attachment_still_renders():
    # nbconvert raises on `attachment:` with no such attachment: formgrader's page would fail
    html = rendered("My plot: ![plot](attachment:plot.png)")
    assert html.strip() == '<div><p>My plot: <img alt="plot"></p>&#10;</div>'


def test_saved_widget_state_is_dropped():
    nb = new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
                                "kernelspec": {"name": "python3", "display_name": "Python 3"}})
    assert sanitise_notebook(nb)["metadata"] == {"kernelspec": {"name": "python3", "display_name": "Python 3"}}


# --- end to end: write_executed, then formgrader's page in a real browser ----------------------------

CHROMIUM = Path("/usr/bin/chromium")


def ran(name: str) -> str:
    """A payload: if it runs, the page's title says so."""
    return f"document.title += ' ran:{name}'"


def hostile_result() -> SubmissionResult:
    nb = new_notebook(cells=[
        new_markdown_cell("# Accelerated SGD"),
        answer(f'Decoupled decay shrinks the weights. <img src=x onerror="{ran("answer-img")}">'
               f"<script>{ran('answer-script')}</script>"),
        new_code_cell("show()", outputs=[
            displayed({"text/html": f'<b>table</b><img src=x onerror="{ran("html-img")}">'
                                    f"<script>{ran('html-script')}</script>", "text/plain": "table"}),
            displayed({"application/javascript": ran("javascript"), "text/plain": "<Javascript object>"}),
            displayed({"text/markdown": f'<img src=y onerror="{ran("markdown-output")}">'}),
            displayed({"image/svg+xml": SVG.replace("alert(1)", ran("svg"))}),
            displayed({"image/png": PNG, "text/plain": "<Figure size 1x1>"}),
            new_output("stream", name="stdout", text="loss 0.25\n"),
        ])])
    return SubmissionResult("eve", "accel_sgd", "accel_sgd", executed=json.loads(json.dumps(nb)))


def formgrader_page(notebook: Path) -> str:
    """The page formgrader serves for this notebook: its exporter, template and resources, with its
    static files (jQuery, formgrade.js) loaded from the installed nbgrader."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    resources = {"assignment_id": "accel_sgd", "notebook_id": "accel_sgd", "submission_id": "1", "index": 0,
                 "total": 1, "base_url": Path(handlers.__file__).parent.parent.as_uri(), "student": "eve",
                 "last_name": "", "first_name": "", "notebook_path": "autograded/eve/accel_sgd/accel_sgd.ipynb"}
    html, _ = HTMLExporter(config=config).from_filename(str(notebook), resources=resources)
    return html


def browser_dom(page: Path, profile: Path) -> str:
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--virtual-time-budget=3000", "--dump-dom", page.as_uri()]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install chromium)")
def test_formgraders_page_of_an_autograded_notebook_runs_no_student_script(tmp_path):
    write_executed([hostile_result()], tmp_path / "autograded")
    page = tmp_path / "page.html"
    page.write_text(formgrader_page(tmp_path / "autograded/eve/accel_sgd/accel_sgd.ipynb"))
    dom = browser_dom(page, tmp_path / "profile")
    assert "Decoupled decay shrinks the weights." in dom  # the page rendered, with the written answer
    assert "<title>accel_sgd</title>" in dom, f"student script ran: {dom.split('</title>')[0][-200:]}"
    assert f"data:image/png;base64,{PNG}" in dom and "loss 0.25" in dom and "<b>table</b>" in dom
