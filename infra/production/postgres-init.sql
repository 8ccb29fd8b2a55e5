-- One database per service on the shared PostgreSQL (Dagster uses the default `dagster`).
CREATE DATABASE mlflow;
CREATE DATABASE feast;
