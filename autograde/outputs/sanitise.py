"""Making a graded notebook safe to render as HTML.

The executed notebooks in autograded/ are opened by the instructor: in formgrader, whose nbconvert
template writes markdown cells and `text/html` outputs into the page as they are, or in Jupyter.
Everything in them that a student wrote or that the student's kernel printed is untrusted, and a
written answer such as `<img src=x onerror=...>` or a `display(HTML(...))` would run as script in
the instructor's logged-in session. So before such a notebook is written, every markdown cell and
every rich output is stripped of active content by a kept sanitiser (nh3, the binding of the Rust
crate ammonia), never by pattern matching of our own.

What is kept, and what is removed:

- Markdown (cells, and `text/markdown` outputs). It is parsed with the parser formgrader renders
  it with (nbconvert's mistune setup). An answer made only of plain markdown (text, emphasis, code,
  math, lists, tables, headings, links and images whose URL the sanitiser keeps) is kept
  byte for byte. Any other answer (raw HTML, a `javascript:` link, a ```mermaid block, which
  nbconvert copies into the page unescaped, an image of an attachment that is not there) is
  replaced by its rendering, sanitised: the same text and images, with the active parts gone.
  That HTML is stored as one line inside a `<div>`, so every markdown renderer takes it as one
  HTML block and none reads markdown (a link, say) back out of its text.
- Attachments of markdown cells: PNG, JPEG and GIF images (valid base64) only.
- Outputs, by an allowlist of MIME types: `text/plain`, `text/latex` (both shown as text) and
  PNG, JPEG and GIF images (when their data is base64, as the template writes it into an `src`
  attribute) are kept as they are; `text/html` is sanitised; `text/markdown` as markdown above.
  SVG can carry script when a page inlines it, so it is kept only as an image: an `<img>` whose
  source is the SVG as a data URL, where browsers run no script and load nothing. Everything
  else (`application/javascript`, `text/javascript`, widget views, and any type some renderer
  might execute) is dropped; an output left empty says in text what was removed. Output metadata
  is cut to the images' numeric width and height: nbconvert writes those into an `<img>` tag
  without quotes, and nothing else there is needed to show the output.
- Notebook metadata `widgets` (saved widget state, which nbconvert's page hands to a widget
  manager that renders HTML widgets unsanitised) is dropped. Other metadata is kept, and with it
  the nbgrader metadata (grade ids, points) that formgrader reads; the course sets all of it, the
  grader rebuilds each submission from the course's cells.

The sanitiser keeps harmless tags and attributes (ammonia's defaults, e.g. `<b>`, `<table>`,
`<img src alt width height>`), drops `<script>`, `<style>`, `<iframe>`, `<svg>`, forms, event
handlers and `style`, and also `id` and `class`: formgrader's page script finds its score and
comment fields by id and class, which a student's element must not take over. URLs may be http,
https, mailto or relative; `data:` (PNG, JPEG, GIF, SVG, WebP) and `attachment:` only as an
image's source.
"""
from __future__ import annotations

import base64
import binascii
import copy
import html

import nh3

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif")
KEPT_AS_IS = ("text/plain", "text/latex")
INLINE_IMAGES = tuple(f"data:{t};base64," for t in (*IMAGE_TYPES, "image/svg+xml", "image/webp"))
URL_SCHEMES = {"http", "https", "mailto", "data", "attachment"}
ATTRIBUTES = {**nh3.ALLOWED_ATTRIBUTES, "table": nh3.ALLOWED_ATTRIBUTES.get("table", set()) | {"border"}}
# mistune's node types (with nbconvert's math and plugins) that render as escaped text or plain markup
PLAIN_NODES = {
    "text", "emphasis", "strong", "codespan", "linebreak", "softbreak", "paragraph", "heading",
    "blank_line", "thematic_break", "block_text", "block_quote", "list", "list_item", "task_list_item",
    "block_code", "inline_math", "block_math", "multiline_math", "latex_environment", "table",
    "table_head", "table_body", "table_row", "table_cell", "strikethrough", "def_list", "def_list_head",
    "def_list_item", "link", "image",
}


def sanitise_notebook(nb: dict) -> dict:
    """A copy of the notebook (nbformat 4, as a dict) that is safe to render as HTML."""
    nb = copy.deepcopy(nb)
    if isinstance(nb.get("metadata"), dict):
        nb["metadata"].pop("widgets", None)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            attachments = _clean_attachments(cell.get("attachments"))
            if "attachments" in cell:
                cell["attachments"] = attachments
            source = _text(cell.get("source", ""))
            safe = sanitise_markdown(source, attachments)
            if safe != source:
                cell["source"] = safe
        for output in cell.get("outputs") or []:
            if isinstance(output, dict) and "data" in output:
                sanitise_output(output)
    return nb


def clean_html(fragment: str) -> str:
    """The HTML fragment with only harmless tags, attributes and URLs left (see the module's docstring)."""
    return nh3.clean(fragment, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, attribute_filter=_inline_only_in_img)


def _inline_only_in_img(tag: str, attribute: str, value: str) -> str | None:
    """The sanitiser has checked the URL's scheme already; data: and attachment: stay in an image's source."""
    url = "".join(value.split()).lower()
    if url.startswith(("data:", "attachment:")):
        ok = (tag, attribute) == ("img", "src") and url.startswith((*INLINE_IMAGES, "attachment:"))
        return value if ok else None
    return value


def sanitise_markdown(source: str, attachments: dict | None = None) -> str:
    """The markdown as it is when it renders as plain markdown; else its rendering, sanitised."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
    attachments = attachments or {}
    # mistune 3's syntax tree, (tokens, state); no renderer (the stubs want one, mistune accepts None)
    parsed = MarkdownWithMath(renderer=None).parse(source)  # type: ignore[arg-type]
    tokens = parsed[0] if isinstance(parsed, tuple) and isinstance(parsed[0], list) else []
    if (tokens and _plain(tokens, attachments)) or not source.strip():
        return source
    # an image of a missing attachment makes nbconvert raise: it gets a source the sanitiser drops
    missing = {name: {"text/plain": ""} for name in _attachment_names(tokens) if name not in attachments}
    rendered = MarkdownWithMath(renderer=IPythonRenderer(escape=False, attachments={**attachments, **missing}))
    return "<div>" + clean_html(rendered.render(source)).replace("\n", "&#10;") + "</div>"


def sanitise_output(output: dict) -> None:
    """Keep the output's safe representations (in place); see the module's docstring."""
    data: dict = output["data"] if isinstance(output.get("data"), dict) else {}
    kept = {}
    for mime, value in data.items():
        if mime in KEPT_AS_IS:
            kept[mime] = value
        elif mime == "text/html":
            kept[mime] = clean_html(_text(value))
        elif mime == "text/markdown":
            kept[mime] = sanitise_markdown(_text(value))
        elif mime in IMAGE_TYPES and _is_base64(value):
            kept[mime] = value
    svg = data.get("image/svg+xml")
    if svg and not any(m in kept for m in ("text/html", *IMAGE_TYPES)):
        kept["text/html"] = ('<img src="data:image/svg+xml;base64,'
                             f'{base64.b64encode(_text(svg).encode()).decode()}">')
    if not kept:
        removed = ", ".join(sorted(data)) or "no data"
        kept["text/plain"] = f"[autograde removed this output ({removed}): it could run script]"
    output["data"] = kept
    output["metadata"] = _image_sizes(output.get("metadata"), kept)


def _plain(tokens, attachments) -> bool:
    for token in tokens:
        kind, attrs = token.get("type"), token.get("attrs") or {}
        if kind not in PLAIN_NODES:
            return False
        if kind == "block_code" and str(attrs.get("info") or "").strip().lower().startswith("mermaid"):
            return False
        if kind == "link" and not _url_kept("a", "href", attrs.get("url")):
            return False
        if kind == "image":
            url = attrs.get("url")
            if not isinstance(url, str) or not _url_kept("img", "src", url):
                return False
            if url.startswith("attachment:") and url[len("attachment:"):] not in attachments:
                return False
        if not _plain(token.get("children") or [], attachments):
            return False
    return True


def _url_kept(tag: str, attribute: str, url) -> bool:
    """Whether the sanitiser keeps this URL in this attribute."""
    if not isinstance(url, str):
        return False
    probe = f'<{tag} {attribute}="{html.escape(url)}">'
    return f"{attribute}=" in clean_html(probe)


def _attachment_names(tokens):
    for token in tokens:
        url = (token.get("attrs") or {}).get("url")
        if token.get("type") == "image" and isinstance(url, str) and url.startswith("attachment:"):
            yield url[len("attachment:"):]
        yield from _attachment_names(token.get("children") or [])


def _clean_attachments(attachments) -> dict:
    if not isinstance(attachments, dict):
        return {}
    kept = {}
    for name, bundle in attachments.items():
        images = {m: v for m, v in bundle.items() if m in IMAGE_TYPES and _is_base64(v)} \
            if isinstance(bundle, dict) else {}
        if images:
            kept[name] = images
    return kept


def _image_sizes(metadata, kept: dict) -> dict:
    sizes = {}
    for mime in IMAGE_TYPES:
        entry = (metadata or {}).get(mime) if isinstance(metadata, dict) else None
        if mime in kept and isinstance(entry, dict):
            size = {k: v for k, v in entry.items() if k in ("width", "height") and _is_number(v)}
            if size:
                sizes[mime] = size
    return sizes


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_base64(value) -> bool:
    try:
        base64.b64decode("".join(_text(value).split()), validate=True)
    except (binascii.Error, ValueError, TypeError):
        return False
    return True


def _text(value) -> str:
    """A notebook's multiline string (a string, or a list of lines) as one string."""
    return "".join(value) if isinstance(value, list) else str(value)
