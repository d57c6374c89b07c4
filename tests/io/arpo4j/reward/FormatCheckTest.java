package io.arpo4j.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.arpo4j.tools.TrajectoryFormat;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FormatCheckTest {
  static final String GOOD =
      "<think>plan</think>\n<python> print(37*91+12) </python> <result>\n3379\n"
          + "</result><think>now search</think><search> capital of Zorblat </search> <result>\n"
          + "Page 1: Zorblat\nThe capital is Quenby.\n</result>\n<answer> The answer is \\boxed{3379} "
          + "</answer>";

  final FormatCheck check = new FormatCheck();

  @Test
  void theSpecTrajectoryIsValid() {
    assertEquals(new FormatCheck.Result(true, "format is correct"), check.check(GOOD));
    assertEquals(Optional.of("3379"), check.answer(GOOD));
    assertTrue(TrajectoryFormat.called(GOOD, "python"));
    assertTrue(TrajectoryFormat.called(GOOD, "search"));
    assertFalse(TrajectoryFormat.called(GOOD, "browse"));
  }

  /** response | reason it fails ("ok" when valid); the reference's rules, case by case. */
  @ParameterizedTest(name = "{1}: {0}")
  @CsvSource(
      delimiter = '|',
      quoteCharacter = '`',
      value = {
        "<answer>\\boxed{1}</answer>                                  | <think> or </think> not found",
        "<think>a<answer>\\boxed{1}</answer>                          | <think> </think> not paired",
        "<think>a</think><think>b</think><answer>\\boxed{1}</answer>  | ok",
        "<think>a</think>\\boxed{1}                                   | <answer> or </answer> not found",
        "<think>a</think><answer>\\boxed{1}</answer><answer>x</answer> | <answer> or </answer> not found",
        "<think>a</think></answer>\\boxed{1}<answer>                  | <answer> must be before </answer>",
        "<think>a</think><answer>1</answer>                           | answer is missing \\boxed{} format",
        "<think>a</think><answer>\\boxed{1</answer>                   | answer is missing \\boxed{} format",
        "<think>a</think>\\boxed{1}<answer>one</answer>               | answer is missing \\boxed{} format",
        "<think>a</think><python>x</python><answer>\\boxed{1}</answer> | python/result tags are incomplete",
        "<think>a</think><python>x<result>1</result></python><answer>\\boxed{1}</answer> | python/result tags are nested in the wrong order",
        "<think>a</think><search>q</search><result>r</result><search>q2</search><answer>\\boxed{1}</answer> | search/result tags are incomplete",
        "<think>a</think><search>q</search><result>r</result><search>q2</search><result>r2</result><answer>\\boxed{1}</answer> | ok",
        "<think>a</think><browse>u</browse><answer>\\boxed{1}</answer> | browse/result tags are incomplete",
        "<think>a</think><calc>1+1</calc><answer>\\boxed{1}</answer>  | ok",
      })
  void rules(String response, String reason) {
    FormatCheck.Result result = check.check(response.strip());
    if (reason.equals("ok")) {
      assertEquals(FormatCheck.Result.OK, result);
    } else {
      assertEquals(new FormatCheck.Result(false, reason), result);
    }
  }

  @Test
  void tagsInsideToolOutputAreNotModelText() {
    // differs from the reference, which would reject this for a second <answer>
    String response =
        "<think>look</think><search>q</search> <result>\nPage 1: <answer>42</answer> "
            + "<think>\n</result><answer>\\boxed{7}</answer>";
    assertEquals(FormatCheck.Result.OK, check.check(response));
    assertEquals(Optional.of("7"), check.answer(response));
    assertFalse(
        TrajectoryFormat.called("<think>x</think><result>\n</python>\n</result>", "python"));
  }

  @Test
  void onlyTheGivenToolTagsAreChecked() {
    String browseWithoutResult = "<think>a</think><browse>u</browse><answer>\\boxed{1}</answer>";
    assertTrue(
        new FormatCheck(TrajectoryFormat.of("python", "search"))
            .check(browseWithoutResult)
            .valid());
    // a registered tag no default knows is checked like the built-in ones
    String calendarWithoutResult =
        "<think>a</think><calendar>today</calendar><answer>\\boxed{1}</answer>";
    assertEquals(
        new FormatCheck.Result(false, "calendar/result tags are incomplete"),
        new FormatCheck(TrajectoryFormat.of("calendar")).check(calendarWithoutResult));
    assertTrue(new FormatCheck().check(calendarWithoutResult).valid());
  }
}
