"""sftscope.report: ``stage.build_report(run_dirs, out_dir, cfg)`` writes a self-contained ``index.html``, ``report.md``
and ``figures/*.png`` from run directories' ``analysis/*.json``. See docs/analysis.md."""
