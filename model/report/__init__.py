"""Reports: the review matrix as Markdown and HTML."""
