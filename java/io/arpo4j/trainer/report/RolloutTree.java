package io.arpo4j.trainer.report;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The rollout of one prompt: its trajectories as a tree of forks.
 *
 * @param title a caption, e.g. "step 40 · arpo · heldout-00012"
 * @param prompt the prompt text
 * @param nodes every trajectory; each parent must be in the list
 * @throws IllegalArgumentException on a duplicate id, a missing parent, a cycle, or a fork offset
 *     past the end of its parent's text
 */
public record RolloutTree(String title, String prompt, List<TreeNode> nodes) {
  public RolloutTree {
    Objects.requireNonNull(title, "title");
    Objects.requireNonNull(prompt, "prompt");
    nodes = List.copyOf(nodes);
    Map<String, TreeNode> byId = new HashMap<>();
    for (TreeNode node : nodes) {
      if (byId.put(node.id(), node) != null) {
        throw new IllegalArgumentException("nodes: duplicate id " + node.id());
      }
    }
    for (TreeNode node : nodes) {
      if (node.parentId() == null) {
        continue;
      }
      TreeNode parent = byId.get(node.parentId());
      if (parent == null) {
        throw new IllegalArgumentException(
            "nodes: parent " + node.parentId() + " of " + node.id() + " is missing");
      }
      if (node.forkOffset() > parent.text().length()) {
        throw new IllegalArgumentException(
            "nodes: "
                + node.id()
                + " forks at "
                + node.forkOffset()
                + ", past the end of "
                + parent.id()
                + " ("
                + parent.text().length()
                + " chars)");
      }
      Set<String> seen = new HashSet<>();
      for (TreeNode up = node; up.parentId() != null; up = byId.get(up.parentId())) {
        if (!seen.add(up.id())) {
          throw new IllegalArgumentException("nodes: " + node.id() + " is its own ancestor");
        }
      }
    }
  }
}
