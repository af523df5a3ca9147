// AtriumReport: load-test results.
