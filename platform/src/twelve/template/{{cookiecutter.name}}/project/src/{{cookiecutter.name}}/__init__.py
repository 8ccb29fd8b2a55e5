"""{{ cookiecutter.title }}: {{ cookiecutter.description }}"""
