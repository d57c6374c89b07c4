package io.arpo4j.trainer.report;

import io.arpo4j.tools.TrajectoryFormat;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * HTML for one {@link RolloutTree}: nested boxes, one per trajectory, children under their parent.
 * In each text, tool results are shaded and every entropy check is an inline chip showing ΔH, P and
 * the decision; a forked child says at which chip it left its parent.
 */
final class TreeView {
  // "<pre>\n": an HTML parser drops one newline right after <pre>, so texts starting with one keep
  // it

  private final RolloutTree tree;
  private final String anchor;
  private final Map<String, List<TreeNode>> children = new LinkedHashMap<>();

  private TreeView(RolloutTree tree, int index) {
    this.tree = tree;
    this.anchor = "tree" + index;
    for (TreeNode node : tree.nodes()) {
      if (node.parentId() != null) {
        children.computeIfAbsent(node.parentId(), k -> new ArrayList<>()).add(node);
      }
    }
    children
        .values()
        .forEach(
            list ->
                list.sort(
                    Comparator.comparingInt(TreeNode::forkOffset).thenComparing(TreeNode::id)));
  }

  static String render(RolloutTree tree, int index) {
    return new TreeView(tree, index).render();
  }

  private String render() {
    long branchedPoints =
        tree.nodes().stream()
            .flatMap(n -> n.branchPoints().stream())
            .filter(BranchPoint::branched)
            .count();
    long checks = tree.nodes().stream().mapToLong(n -> n.branchPoints().size()).sum();
    long roots = tree.nodes().stream().filter(n -> n.parentId() == null).count();
    double meanReward =
        tree.nodes().stream()
            .mapToDouble(TreeNode::reward)
            .filter(Double::isFinite)
            .average()
            .orElse(Double.NaN);

    StringBuilder html = new StringBuilder();
    html.append("<details class=\"tree\" open id=\"")
        .append(anchor)
        .append("\">\n<summary>")
        .append(Html.escape(tree.title()))
        .append("</summary>\n")
        .append("<p class=\"stats\">")
        .append(tree.nodes().size())
        .append(" paths (")
        .append(roots)
        .append(" from the prompt, ")
        .append(tree.nodes().size() - roots)
        .append(" forked) \u00b7 ")
        .append(checks)
        .append(" entropy checks, ")
        .append(branchedPoints)
        .append(" branched \u00b7 mean reward ")
        .append(Html.fixed(meanReward, 2))
        .append("</p>\n")
        .append("<div class=\"prompt\"><span class=\"tag\">prompt</span><pre>\n")
        .append(Html.escape(tree.prompt()))
        .append("</pre></div>\n<ul class=\"nodes\">\n");
    for (TreeNode node : tree.nodes()) {
      if (node.parentId() == null) {
        node(node, null, html);
      }
    }
    return html.append("</ul>\n</details>\n").toString();
  }

  private void node(TreeNode node, TreeNode parent, StringBuilder html) {
    html.append("<li><div class=\"node\" id=\"")
        .append(anchor)
        .append('-')
        .append(Html.escape(node.id()))
        .append("\">\n<div class=\"head\"><span class=\"nid\">")
        .append(Html.escape(node.id()))
        .append("</span>");
    if (parent == null) {
      html.append("<span class=\"from\">");
      if (node.role() != null) {
        html.append("<b>").append(Html.escape(node.role())).append("</b>, ");
      }
      html.append("sampled from the prompt</span>");
    } else {
      html.append("<span class=\"from\">forked from ")
          .append(Html.escape(parent.id()))
          .append(forkLabel(parent, node.forkOffset()))
          .append("</span>");
    }
    html.append("<span class=\"reward ")
        .append(rewardClass(node.reward()))
        .append("\">reward ")
        .append(Html.fixed(node.reward(), 2))
        .append("</span></div>\n<pre class=\"text\">\n")
        .append(text(node))
        .append("</pre>\n</div>\n");
    List<TreeNode> kids = children.getOrDefault(node.id(), List.of());
    if (!kids.isEmpty()) {
      html.append("<ul>\n");
      for (TreeNode child : kids) {
        node(child, node, html);
      }
      html.append("</ul>\n");
    }
    html.append("</li>\n");
  }

  /** " at ◆2" when the fork is at a branch point of the parent, else " at char N". */
  private static String forkLabel(TreeNode parent, int offset) {
    for (int i = 0; i < parent.branchPoints().size(); i++) {
      if (parent.branchPoints().get(i).offset() == offset) {
        return " at \u25c6" + (i + 1);
      }
    }
    return " at char " + offset;
  }

  /** The node's text, escaped, tool results shaded, a chip at each branch point. */
  private static String text(TreeNode node) {
    String text = node.text();
    List<TrajectoryFormat.Span> results = TrajectoryFormat.resultSpans(text);
    TreeSet<Integer> cuts = new TreeSet<>(List.of(0, text.length()));
    results.forEach(
        span -> {
          cuts.add(span.start());
          cuts.add(span.end());
        });
    node.branchPoints().forEach(p -> cuts.add(p.offset()));

    StringBuilder html = new StringBuilder();
    Integer from = cuts.first();
    while (true) {
      chips(node, from, html);
      Integer to = cuts.higher(from);
      if (to == null) {
        return html.toString();
      }
      String part = Html.escape(text.substring(from, to));
      if (inResult(results, from)) {
        html.append("<span class=\"res\">").append(part).append("</span>");
      } else {
        html.append(part);
      }
      from = to;
    }
  }

  private static void chips(TreeNode node, int offset, StringBuilder html) {
    List<BranchPoint> points = node.branchPoints();
    for (int i = 0; i < points.size(); i++) {
      BranchPoint p = points.get(i);
      if (p.offset() != offset) {
        continue;
      }
      String decision = p.branched() ? "branched" : "no branch";
      String note = p.note().isEmpty() ? "" : " (" + p.note() + ")";
      html.append("<span class=\"bp ")
          .append(p.branched() ? "yes" : "no")
          .append("\">\u25c6")
          .append(i + 1)
          .append(" \u0394H ")
          .append(Html.signed(p.deltaEntropy(), 3))
          .append(" \u00b7 P ")
          .append(Html.fixed(p.probability(), 3))
          .append(" \u00b7 ")
          .append(decision)
          .append(Html.escape(note))
          .append("</span>");
    }
  }

  private static boolean inResult(List<TrajectoryFormat.Span> spans, int offset) {
    for (TrajectoryFormat.Span span : spans) {
      if (offset >= span.start() && offset < span.end()) {
        return true;
      }
    }
    return false;
  }

  private static String rewardClass(double reward) {
    if (!Double.isFinite(reward)) {
      return "none";
    }
    return reward >= 1 ? "good" : reward > 0 ? "part" : "bad";
  }
}
