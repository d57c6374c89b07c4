/**
 * The run report: {@link io.arpo4j.trainer.report.HtmlReport} writes one self-contained HTML file
 * (inline CSS and SVG, no scripts) with the settings, a results table, training curves from metrics
 * logs and rollout trees with their branch points.
 */
package io.arpo4j.trainer.report;
