from sftscope.core.store import ResultsStore


def _row(key, score=1.0, **kw):
    base = dict(key=key, run="r", checkpoint_id="c1", step=10, benchmark="b", version="1", domain="math",
                item_id="i" + key, sample_idx=0, params={"seed": 1}, response="x", truncated=False,
                verdict="correct", score=score, details={"a": 1})
    base.update(kw)
    return base


def test_add_is_idempotent_and_keys_found(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as st:
        assert st.add_samples([_row("a"), _row("b")]) == 2
        assert st.add_samples([_row("a", score=0.0)]) == 0  # first write wins: no duplicates
        assert st.existing_keys(["a", "z"]) == {"a"}
        df = st.samples_frame()
        assert list(df["key"]) == ["a", "b"] and df["params"][0] == {"seed": 1} and df["score"][0] == 1.0


def test_existing_keys_chunks_past_sqlite_limit(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as st:
        st.add_samples([_row(str(i)) for i in range(2500)])
        assert len(st.existing_keys([str(i) for i in range(3000)])) == 2500


def test_checkpoints_and_runs(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as st:
        st.upsert_checkpoint("c1", "r", 10, "/x", {"epoch": 1})
        st.upsert_run("r", {"variant": "cot"})
        assert st.checkpoints_frame()["meta"][0] == {"epoch": 1}
        assert st.runs_frame()["meta"][0] == {"variant": "cot"}
