"""Reports: result records -> tables."""
