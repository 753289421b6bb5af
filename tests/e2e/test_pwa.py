"""The PWA in the browser: the service worker registers, the offline page (styled from the
cached shell) answers a navigation when the network is gone, and a deploy that changes the
static files replaces the cache and the pages' asset URLs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from .conftest import sign_in

pytestmark = pytest.mark.e2e

RESIDENT = "13800000001"  # the demo resident

CONTROLLED = """async () => {
  const registration = await navigator.serviceWorker.ready;
  if (!navigator.serviceWorker.controller) {
    await new Promise((resolve) => navigator.serviceWorker.addEventListener(
      "controllerchange", resolve, {once: true}));
  }
  return {scope: registration.scope, script: navigator.serviceWorker.controller.scriptURL,
          caches: await caches.keys()};
}"""
UPDATED = """async () => {
  const registration = await navigator.serviceWorker.getRegistration();
  await registration.update();
  const worker = registration.installing || registration.waiting || registration.active;
  if (worker.state !== "activated") {
    await new Promise((resolve) => worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve();
    }));
  }
  return caches.keys();
}"""
STYLED = """() => [...document.styleSheets].some((sheet) => sheet.cssRules.length > 0)"""


@pytest.fixture
def deploy(live_app: Flask) -> Iterator[Any]:
    """``deploy(version)``: the live server now serves static files of another version."""
    before = live_app.extensions["static_version"]

    def _deploy(version: str) -> None:
        live_app.extensions["static_version"] = version

    yield _deploy
    live_app.extensions["static_version"] = before


def test_the_service_worker_registers_and_the_offline_page_shows_without_network(
    open_page, journey_data, live_app
):
    page = open_page()
    sign_in(page, RESIDENT)
    state = page.evaluate(CONTROLLED)
    version = live_app.extensions["static_version"]
    assert state["scope"] == journey_data.base_url + "/"
    assert state["script"] == journey_data.base_url + "/sw.js"
    assert state["caches"] == [f"carbon-shell-{version}"]

    page.context.set_offline(True)
    try:
        page.goto("/actions")  # a navigation: the network first, then the offline page
        expect(page.locator("h1")).to_have_text("您已离线")
        assert page.url.endswith("/actions")
        assert page.evaluate(STYLED), "the offline page lost its cached stylesheet"
        expect(page.get_by_role("link", name="重试")).to_have_attribute("href", "/home")
    finally:
        page.context.set_offline(False)
    page.get_by_role("link", name="重试").click()
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.locator(".stat-value").first).to_be_visible()


def test_a_deploy_replaces_the_shell_cache_and_the_asset_urls(open_page, journey_data, deploy):
    page = open_page()
    page.goto("/login")
    old = page.evaluate(CONTROLLED)["caches"]
    assert len(old) == 1 and old[0].startswith("carbon-shell-")

    deploy("0123456789ab")
    assert page.evaluate(UPDATED) == ["carbon-shell-0123456789ab"]  # the old cache is gone
    page.reload()
    stylesheet = page.locator("link[rel=stylesheet]")
    expect(stylesheet).to_have_attribute("href", "/static/app.css?v=0123456789ab")
