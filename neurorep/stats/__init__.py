"""Statistics shared by every family: noise ceilings, permutation, bootstrap, FDR."""
