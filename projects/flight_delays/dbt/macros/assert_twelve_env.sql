{#- Stop a build early, naming the missing variables, instead of failing later on odd paths. -#}
{% macro assert_twelve_env() %}
  {%- set missing = [] -%}
  {%- for name in ['TWELVE_HOME', 'TWELVE_DATA_DIR'] -%}
    {%- if not env_var(name, '') -%}{%- do missing.append(name) -%}{%- endif -%}
  {%- endfor -%}
  {%- if execute and missing -%}
    {{ exceptions.raise_compiler_error(
        "Environment variable(s) " ~ missing | join(', ') ~ " not set: the flight_delays dbt project"
        ~ " writes its warehouse under TWELVE_HOME and reads/writes data under TWELVE_DATA_DIR."
        ~ " Run it through Dagster (which calls twelve.paths.export_env()) or export both first."
    ) }}
  {%- endif -%}
  select 1
{% endmacro %}
