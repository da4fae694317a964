"""Scenarios: named concurrent compositions of KHO users, operators and the next kernel, with
bounds, one module per spec (the names ``khomc list`` prints).

This layer sits above the drivers and the era packages (model/kho/<era>/) and below the engines;
nothing below imports it (properties/engine/test_contract.py checks the layering).
"""
