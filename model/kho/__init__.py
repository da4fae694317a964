"""KHO designs, one module per era, mirroring the kernel functions of that era (sources cited)."""
