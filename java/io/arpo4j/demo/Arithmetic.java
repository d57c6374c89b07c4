package io.arpo4j.demo;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * An integer expression such as {@code 37*91+12}: 2–3 operands of 2–3 digits joined by + - *,
 * written without spaces or parentheses (so Python's and Java's precedence agree).
 */
record Arithmetic(List<Integer> operands, List<Character> operators) {
  private static final char[] OPERATORS = {'+', '-', '*'};

  Arithmetic {
    operands = List.copyOf(operands);
    operators = List.copyOf(operators);
    if (operands.size() != operators.size() + 1) {
      throw new IllegalArgumentException(
          "operands: need one more than operators, got "
              + operands.size()
              + " and "
              + operators.size());
    }
  }

  static Arithmetic random(Random random) {
    int count = 2 + random.nextInt(2);
    List<Integer> operands = new ArrayList<>();
    List<Character> operators = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      operands.add(random.nextBoolean() ? 10 + random.nextInt(90) : 100 + random.nextInt(900));
      if (i > 0) {
        operators.add(OPERATORS[random.nextInt(OPERATORS.length)]);
      }
    }
    return new Arithmetic(operands, operators);
  }

  /** The expression as written in the question and the python call. */
  String text() {
    StringBuilder s = new StringBuilder().append(operands.get(0));
    for (int i = 0; i < operators.size(); i++) {
      s.append(operators.get(i)).append(operands.get(i + 1));
    }
    return s.toString();
  }

  /** The value with * before + and -, left to right. */
  long value() {
    // a sum of products: fold each run of '*' into the current term
    long sum = 0;
    long term = operands.get(0);
    int sign = 1;
    for (int i = 0; i < operators.size(); i++) {
      long next = operands.get(i + 1);
      char op = operators.get(i);
      if (op == '*') {
        term *= next;
      } else {
        sum += sign * term;
        sign = op == '+' ? 1 : -1;
        term = next;
      }
    }
    return sum + sign * term;
  }
}
