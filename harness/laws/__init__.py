"""Conservation laws: field families, Lie generation, counting, published and explicit laws, extra laws."""
