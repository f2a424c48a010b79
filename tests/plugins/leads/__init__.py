"""Tests of the leads plugin (a package, so its module names never clash with other plugins' tests)."""
