"""The dashboard page: one HTML page, a thin view over the JSON API (static/dashboard.js)."""
from __future__ import annotations

from flask import Blueprint, render_template

blueprint = Blueprint("page", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


@blueprint.get("/")
def dashboard():
    return render_template("index.html")
