package io.arpo4j.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TrajectoryFormatTest {
  private final TrajectoryFormat format = TrajectoryFormat.of("python", "search", "calendar");

  @Test
  void stopStringsAreTheClosingTagsOfTheGivenTools() {
    assertEquals(List.of("</python>", "</search>", "</calendar>"), format.stopStrings());
    assertEquals(
        List.of("</python>", "</search>", "</browse>"), TrajectoryFormat.BUILT_IN.stopStrings());
    assertEquals(List.of(), TrajectoryFormat.of().stopStrings());
  }

  @Test
  void callAtEndTakesTheContentOfTheLastCallOfTheStoppingTag() {
    String text =
        "<think>two steps</think><python>print(1)</python> <result>\n1\n</result>"
            + "<think>again</think><python>\n  print(37*91+12)\n</python>";
    assertEquals(Optional.of(new ToolCall("python", "print(37*91+12)")), format.callAtEnd(text));
    assertEquals(
        Optional.of(new ToolCall("calendar", "today")),
        format.callAtEnd("<calendar> today </calendar>\n "));
    assertEquals(
        Optional.of(new ToolCall("search", "capital of Zorblat")),
        format.callAtEnd(
            "<python>x=1</python> <result>\n\n</result><search> capital of Zorblat </search>"));
  }

  @Test
  void textNotEndingAtAToolStopIsNoCall() {
    assertEquals(Optional.empty(), format.callAtEnd("<answer>\\boxed{3}</answer>"));
    assertEquals(Optional.empty(), format.callAtEnd("<python>print(1)</python> and more"));
    assertEquals(Optional.empty(), format.callAtEnd("<browse>doc-7</browse>"));
  }

  @Test
  void toolInputIsTheLastOpenTagBeforeTheFirstClose() {
    assertEquals(
        Optional.of("print(1)"),
        TrajectoryFormat.toolInput("<think>hm</think>\n<python>  print(1)\n </python>", "python"));
    assertEquals(
        Optional.of("b"), TrajectoryFormat.toolInput("<python>a <python>b</python>x", "python"));
    assertEquals(Optional.of(""), TrajectoryFormat.toolInput("<search></search>", "search"));
    // the last opening tag wins, as in the reference (rindex), and content is kept verbatim
    assertEquals(
        Optional.of("'\nprint(s)"),
        TrajectoryFormat.toolInput("<python>s = '<python>'\nprint(s)</python>", "python"));
    assertEquals(Optional.empty(), TrajectoryFormat.toolInput("no opening</python>", "python"));
    assertEquals(Optional.empty(), TrajectoryFormat.toolInput("<python</python>", "python"));
    assertEquals(Optional.empty(), TrajectoryFormat.toolInput("<python>x</python>", "search"));
    // a closing tag without an opening one is a call with empty input, which the executor rejects
    assertEquals(Optional.of(new ToolCall("python", "")), format.callAtEnd("print(1)</python>"));
  }

  @Test
  void resultsAreWrappedAndFoundAgain() {
    assertEquals(" <result>\n3379\n</result>", TrajectoryFormat.wrapResult("3379"));
    String response =
        "<python>1</python>"
            + TrajectoryFormat.wrapResult("a")
            + "x<search>q</search>"
            + TrajectoryFormat.wrapResult("")
            + "<answer>"
            + " <result>\ncut";
    List<TrajectoryFormat.Span> spans = TrajectoryFormat.resultSpans(response);
    assertEquals(
        List.of(
            new TrajectoryFormat.Span(18, 18 + 21),
            new TrajectoryFormat.Span(58, 58 + 20),
            new TrajectoryFormat.Span(86, response.length())),
        spans);
    assertEquals(" <result>\na\n</result>", response.substring(18, 39));
    assertEquals(" <result>\n\n</result>", response.substring(58, 78));
  }

  @Test
  void toolOutputIsNotModelText() {
    String response = "<think>x</think><search>q</search> <result>\n</python> <answer>\n</result>";
    assertEquals(
        "<think>x</think><search>q</search> <result></result>",
        TrajectoryFormat.withoutToolOutput(response));
    assertTrue(TrajectoryFormat.called(response, "search"));
    assertEquals(false, TrajectoryFormat.called(response, "python"));
  }

  @Test
  void truncationKeepsSurrogatePairsWhole() {
    assertEquals("abc", TrajectoryFormat.truncate("abc", 3));
    assertEquals("ab\n... [output truncated]", TrajectoryFormat.truncate("abcd", 2));
    assertEquals("a\n... [output truncated]", TrajectoryFormat.truncate("a\uD83D\uDE00b", 2));
  }

  @Test
  void errorTexts() {
    assertEquals(
        "Error: no <calendar> tag before </calendar>.",
        TrajectoryFormat.noOpeningTagError("calendar"));
    assertEquals(
        "Error: Tool(python) timed out after 2 s.",
        TrajectoryFormat.timeoutError("python", Duration.ofSeconds(2)));
    assertEquals(
        "Error: Tool(python) timed out after 1500 ms.",
        TrajectoryFormat.timeoutError("python", Duration.ofMillis(1500)));
    assertEquals(
        "Error: Tool(python) failed: IllegalStateException: first",
        TrajectoryFormat.failedError("python", new IllegalStateException("first\nsecond")));
    assertEquals(
        "Error: unknown tool 'x'. Available tools: python, search.",
        TrajectoryFormat.unknownToolError("x", List.of("python", "search")));
  }

  @Test
  void rejectsBadReservedAndDuplicateTags() {
    for (List<String> bad :
        List.of(
            List.of("<bad>"),
            List.of("Py"),
            List.of("result"),
            List.of("answer"),
            List.of("think"),
            List.of("python", "python"))) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> new TrajectoryFormat(bad));
      assertTrue(e.getMessage().contains("tag"), e.getMessage());
    }
  }
}
