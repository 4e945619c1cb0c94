"""Where posts come from: one module per source, each yields Post."""
