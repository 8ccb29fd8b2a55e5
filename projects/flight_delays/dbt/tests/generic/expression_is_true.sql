{#- Fails with every row for which the SQL expression is not true (nulls count as not true).
    (Own version so the project needs no dbt package download.) -#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not coalesce(({{ expression }}), false)
{% endtest %}
