"""What grading writes for people: result records and CSVs, the nbgrader gradebook, feedback pages
and the class report."""
