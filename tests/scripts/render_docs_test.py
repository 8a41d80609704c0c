"""The docs' tables agree with the records in docs/results (and the renderer works)."""

import pytest

from scripts import doc_tables
from scripts import render_docs


def test_every_docs_table_is_in_step_with_its_records():
  stale = render_docs.render(check=True)
  assert not stale, (
      f"{stale}: a table differs from docs/results; run "
      "`python scripts/render_docs.py` and commit the result.")


def test_every_record_has_a_machine_commit_and_command():
  loaded = doc_tables.load_records(render_docs.os.path.join(
      render_docs._ROOT, "docs", "results"))
  assert loaded, "docs/results holds no record"
  for name, record in loaded.items():
    assert record["commands"], name
    assert record["machine"]["model_name"], name
    assert record["machine"]["simd_flags"], name
    assert len(record["commit"]) >= 40, name


def test_render_text_rewrites_only_the_block_body():
  text = ("intro\n<!-- table: t -->\n| old |\n<!-- /table -->\noutro\n")
  new = render_docs.render_text(text, {"t": "| new |\n"}, "doc.md")
  assert new == "intro\n<!-- table: t -->\n| new |\n<!-- /table -->\noutro\n"
  assert render_docs.render_text(new, {"t": "| new |\n"}, "doc.md") == new


def test_render_text_names_an_unknown_table():
  with pytest.raises(KeyError, match="unknown table id 'nope'"):
    render_docs.render_text("<!-- table: nope -->\n<!-- /table -->", {},
                            "doc.md")


def test_check_finds_a_changed_number(tmp_path, monkeypatch):
  docs = tmp_path / "docs"
  (docs / "results").mkdir(parents=True)
  (tmp_path / "README.md").write_text("x\n")
  monkeypatch.setattr(doc_tables, "TABLES",
                      {"t": lambda records: "| 3.500 |\n"})
  page = docs / "page.md"
  page.write_text("<!-- table: t -->\n| 3.500 |\n<!-- /table -->\n")
  assert render_docs.render(root=str(tmp_path), check=True) == []
  page.write_text("<!-- table: t -->\n| 3.499 |\n<!-- /table -->\n")
  assert render_docs.render(root=str(tmp_path), check=True) == [str(page)]
  render_docs.render(root=str(tmp_path))
  assert "3.500" in page.read_text()
