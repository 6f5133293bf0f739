# Monitoring: the stack's alerting rules as a plain Prometheus rule file, checked by promtool.
.PHONY: rules
rules: $(VENV)/.installed ## build/rules/$(STACK).rules.yml from Pulumi.$(STACK).yaml, promtool-checked
	$(PY) scripts/render_rules.py $(STACK)
	promtool check rules build/rules/$(STACK).rules.yml
