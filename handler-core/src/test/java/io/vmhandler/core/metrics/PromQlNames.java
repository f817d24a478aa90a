package io.vmhandler.core.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The names a PromQL expression (as written in a Grafana panel) refers to: metric selectors with
 * their label matchers, and the labels of {@code by}/{@code without}/{@code on}/{@code ignoring}/
 * {@code group_left}/{@code group_right} lists. Not a full parser: it tokenizes, then walks the
 * tokens knowing which identifiers are functions, aggregations and keywords, so every other
 * identifier outside braces is a metric name. Grafana variables ({@code $node}, {@code ${x}},
 * {@code $__rate_interval}, {@code [[x]]}) are tokens of their own. An identifier called like a
 * function that PromQL does not have, or a character PromQL does not use, is an error, so a typo
 * cannot hide a name.
 *
 * <p>Function, aggregation and keyword names are from the Prometheus query language reference:
 * https://prometheus.io/docs/prometheus/latest/querying/functions/ and
 * https://prometheus.io/docs/prometheus/latest/querying/operators/
 */
final class PromQlNames {
    /** A metric selector: {@code metric{label op value, ...}}; matchers map label to "op value". */
    record Selector(String metric, Map<String, String> matchers) {}

    private static final Set<String> AGGREGATIONS = Set.of("sum", "min", "max", "avg", "group", "stddev", "stdvar",
            "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio");
    private static final Set<String> FUNCTIONS = Set.of("abs", "absent", "absent_over_time", "ceil", "changes", "clamp",
            "clamp_max", "clamp_min", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv",
            "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile",
            "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters", "double_exponential_smoothing",
            "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln", "log2", "log10", "minute",
            "month", "predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sort_by_label",
            "sort_by_label_desc", "sqrt", "time", "timestamp", "vector", "year", "avg_over_time", "min_over_time",
            "max_over_time", "sum_over_time", "count_over_time", "quantile_over_time", "stddev_over_time",
            "stdvar_over_time", "last_over_time", "present_over_time", "mad_over_time", "acos", "acosh", "asin", "asinh",
            "atan", "atanh", "cos", "cosh", "sin", "sinh", "tan", "tanh", "deg", "rad", "pi");
    /** Followed by a parenthesised label list (optional after group_left/group_right). */
    private static final Set<String> LABEL_LISTS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right");
    private static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
            "start", "end");

    private enum Kind { IDENT, STRING, NUMBER, VARIABLE, PUNCT }

    private record Token(Kind kind, String text, int at) {}

    final List<Selector> selectors = new ArrayList<>();
    final Set<String> groupingLabels = new LinkedHashSet<>();
    private final String expr;
    private final List<Token> tokens;
    private int i;

    private PromQlNames(String expr) {
        this.expr = expr;
        this.tokens = tokenize(expr);
    }

    /** Reads {@code expr}; throws IllegalArgumentException naming the position of what it cannot read. */
    static PromQlNames of(String expr) {
        PromQlNames n = new PromQlNames(expr);
        n.walk();
        return n;
    }

    private void walk() {
        while (i < tokens.size()) {
            Token t = tokens.get(i++);
            if (t.kind() == Kind.PUNCT && t.text().equals("{")) {
                throw error(t, "a selector without a metric name");
            }
            if (t.kind() == Kind.PUNCT && t.text().equals("[")) {
                skipPast("]"); // a range or subquery: durations and variables only
                continue;
            }
            if (t.kind() != Kind.IDENT) {
                continue;
            }
            String word = t.text();
            String lower = word.toLowerCase(java.util.Locale.ROOT);
            if (LABEL_LISTS.contains(lower)) {
                if (peek("(")) {
                    i++;
                    labelList();
                }
            } else if (KEYWORDS.contains(lower) || AGGREGATIONS.contains(lower)) {
                continue;
            } else if (peek("(")) {
                if (!FUNCTIONS.contains(word)) {
                    throw error(t, "'" + word + "' is not a PromQL function");
                }
            } else {
                Map<String, String> matchers = new LinkedHashMap<>();
                if (peek("{")) {
                    i++;
                    matchers(matchers);
                }
                selectors.add(new Selector(word, matchers));
            }
        }
    }

    private void labelList() {
        while (i < tokens.size()) {
            Token t = tokens.get(i++);
            if (t.kind() == Kind.PUNCT && t.text().equals(")")) {
                return;
            }
            if (t.kind() == Kind.IDENT) {
                groupingLabels.add(t.text());
            } else if (!(t.kind() == Kind.PUNCT && t.text().equals(","))) {
                throw error(t, "a label name in a by/on list");
            }
        }
        throw new IllegalArgumentException("unclosed label list in: " + expr);
    }

    private void matchers(Map<String, String> into) {
        while (i < tokens.size()) {
            Token label = tokens.get(i++);
            if (label.kind() == Kind.PUNCT && label.text().equals("}")) {
                return;
            }
            if (label.kind() == Kind.PUNCT && label.text().equals(",")) {
                continue;
            }
            if (label.kind() != Kind.IDENT || i + 1 >= tokens.size()) {
                throw error(label, "a label matcher");
            }
            Token op = tokens.get(i++);
            Token value = tokens.get(i++);
            if (!Set.of("=", "!=", "=~", "!~").contains(op.text())
                    || (value.kind() != Kind.STRING && value.kind() != Kind.VARIABLE)) {
                throw error(op, "label op \"value\" after " + label.text());
            }
            into.put(label.text(), op.text() + value.text());
        }
        throw new IllegalArgumentException("unclosed selector in: " + expr);
    }

    private boolean peek(String punct) {
        return i < tokens.size() && tokens.get(i).kind() == Kind.PUNCT && tokens.get(i).text().equals(punct);
    }

    private void skipPast(String punct) {
        while (i < tokens.size() && !(tokens.get(i).kind() == Kind.PUNCT && tokens.get(i).text().equals(punct))) {
            i++;
        }
        i++;
    }

    private IllegalArgumentException error(Token t, String wanted) {
        return new IllegalArgumentException("at " + t.at() + " ('" + t.text() + "'): " + wanted + ", in: " + expr);
    }

    private static List<Token> tokenize(String s) {
        List<Token> out = new ArrayList<>();
        int p = 0;
        while (p < s.length()) {
            char c = s.charAt(p);
            int start = p;
            if (Character.isWhitespace(c)) {
                p++;
            } else if (c == '"' || c == '\'' || c == '`') {
                p++;
                while (p < s.length() && s.charAt(p) != c) {
                    p += (s.charAt(p) == '\\' && c != '`') ? 2 : 1;
                }
                if (p >= s.length()) {
                    throw new IllegalArgumentException("unclosed string at " + start + " in: " + s);
                }
                p++;
                out.add(new Token(Kind.STRING, s.substring(start, p), start));
            } else if (c == '$') {
                p = s.startsWith("${", p) ? s.indexOf('}', p) + 1 : identEnd(s, p + 1);
                if (p <= start + 1) {
                    throw new IllegalArgumentException("bad variable at " + start + " in: " + s);
                }
                out.add(new Token(Kind.VARIABLE, s.substring(start, p), start));
            } else if (s.startsWith("[[", p)) {
                p = s.indexOf("]]", p) + 2;
                if (p < 2) {
                    throw new IllegalArgumentException("unclosed [[variable]] at " + start + " in: " + s);
                }
                out.add(new Token(Kind.VARIABLE, s.substring(start, p), start));
            } else if (Character.isDigit(c) || (c == '.' && p + 1 < s.length() && Character.isDigit(s.charAt(p + 1)))) {
                // numbers and durations (5m, 1h30m, 1e3, 0x1f): only their extent matters
                while (p < s.length() && (Character.isLetterOrDigit(s.charAt(p)) || s.charAt(p) == '.')) {
                    p++;
                }
                out.add(new Token(Kind.NUMBER, s.substring(start, p), start));
            } else if (Character.isLetter(c) || c == '_' || c == ':') {
                p = identEnd(s, p);
                out.add(new Token(Kind.IDENT, s.substring(start, p), start));
            } else {
                String op = operator(s, p);
                if (op == null) {
                    throw new IllegalArgumentException("unexpected '" + c + "' at " + p + " in: " + s);
                }
                p += op.length();
                out.add(new Token(Kind.PUNCT, op, start));
            }
        }
        return out;
    }

    private static int identEnd(String s, int p) {
        while (p < s.length() && (Character.isLetterOrDigit(s.charAt(p)) || s.charAt(p) == '_' || s.charAt(p) == ':')) {
            p++;
        }
        return p;
    }

    private static String operator(String s, int p) {
        for (String op : List.of("=~", "!~", "!=", "==", ">=", "<=", "(", ")", "{", "}", "[", "]", ",", "=", ">", "<",
                "+", "-", "*", "/", "%", "^", "@")) {
            if (s.startsWith(op, p)) {
                return op;
            }
        }
        return null;
    }
}
