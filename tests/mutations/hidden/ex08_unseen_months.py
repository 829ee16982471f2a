"""An instructor's hidden check for exercise 8, as the tests use it: the plan must keep
the SLO, within the costs, in five months drawn from seeds the student never sees.

An instructor writes a file like this one with seeds of their own (and changes them
every term), and passes it with ``resilience-lab grade --extra-checks FILE``. These
seeds are the test suite's fixed set, so they are not secret: never grade with them.
"""

from resilience_lab.checks import graded
from resilience_lab.checks.lesson08 import check_unseen_months

EXERCISE = "08-capstone"
SEEDS = [11, 22, 33, 44, 55]


@graded("l8-unseen-months", points=4,
        hint="Your plan missed the SLO in months you could not see: protect against every kind of incident the "
             "chaos can draw (lesson.CHAOS), not only those of the example month.")
def check_months(student):
    check_unseen_months(student["protect"], SEEDS)
