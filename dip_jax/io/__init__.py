"""Files in and out: images (`images`), a run's folder (`workdir`), its
reports, curves and summaries (`report`, `curves`, `results`), and the
committed results records with the docs tables made from them (`records`,
`results_pages`, `claims`)."""
