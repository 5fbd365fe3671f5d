"""The JVM's behaviour that the ops reproduce, in one place.

Spark computes on the JVM, and its answers depend on Java's rules where Python's differ: how
``Math.exp`` overflows, how ``x / 0.0`` and ``Math.floor(-0.0)`` come out, how a loop adds
(Python 3.12's ``sum`` compensates rounding errors), how ``String.toLowerCase`` treats a final
sigma, what a Java regular expression matches, how ``Double.toString`` prints, and the libraries
Spark calls (commons-math's MersenneTwister and digamma, Spark's Murmur3). Each function here
reproduces one named Java, Scala or Spark function and says which.

* ``jmath``: java.lang.Math (exp, log, floor, pow, min, ...), IEEE division, Math.fma, the float
  and long views of a double, Scala's Double.MinValue, sums added left to right as Spark's loops
  and in the lanes of netlib's ddot (with a note on which of Spark's dot products add how).
* ``commons_math``: commons-math's MersenneTwister and Gamma.digamma, breeze's Gamma sampler.
* ``murmur3``: Spark's Murmur3_x86_32.
* ``text``: String.toLowerCase (Java 17) with the JDK's word breaks, String.length.
* ``regex``: java.util.regex patterns translated to Python's ``re``; Pattern.split, Matcher.find.
* ``format``: Double.toString and Float.toString.
* ``parse``: Double.parseDouble, Long.parseLong, String.trim and Character.isDigit.
* ``character_data``: Java 17's character tables (Character.getType, Character.digit,
  String.toLowerCase per code point), generated from Java by tools/character_data; read by
  ``text`` and ``parse`` on first use.
"""
