"""churnseg: which customers are about to churn, why, what they are worth and what to do first.

Importing the package touches no file, sets no MLflow URI and configures no logging.
"""

__version__ = "0.1.0"
