import java.util.Locale;

/**
 * Prints what Java's own character data answers for every code point, one record a line, for
 * tools/character_data to write into leapserve/runtime/jvm/character_data.py:
 *
 *   java VERSION
 *   type FIRST NAME     from code point FIRST (hex) on, Character.getType is NAME (a Unicode
 *                       category abbreviation), up to the next type record
 *   digits ZERO         Character.digit(c, 10) is 0 at ZERO (hex): a run of ten digits starts
 *   lower CP RESULT...  String.toLowerCase(Locale.ROOT) of the one code point CP, where it
 *                       changes it: the code points of the result (hex)
 *   stray-digit CP      a digit that is not part of a run from a zero (the tool refuses these)
 *
 * The Java launcher runs it straight from this file: java CharacterTables.java
 */
public class CharacterTables {
    // Character.getType's values (17 is not used) as Unicode's category abbreviations.
    private static final String[] NAMES = {
        "Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Me", "Mc", "Nd", "Nl", "No", "Zs", "Zl", "Zp",
        "Cc", "Cf", null, "Co", "Cs", "Pd", "Ps", "Pe", "Pc", "Po", "Sm", "Sc", "Sk", "So", "Pi", "Pf",
    };

    public static void main(String[] args) {
        StringBuilder out = new StringBuilder(1 << 17);
        out.append("java ").append(Runtime.version()).append('\n');
        int previous = -1;
        for (int cp = 0; cp <= Character.MAX_CODE_POINT; cp++) {
            int type = Character.getType(cp);
            if (type != previous) {
                out.append("type ").append(Integer.toHexString(cp)).append(' ').append(NAMES[type]).append('\n');
                previous = type;
            }
            int digit = Character.digit(cp, 10);
            if (digit == 0) {
                out.append("digits ").append(Integer.toHexString(cp)).append('\n');
            } else if (digit > 0 && Character.digit(cp - digit, 10) != 0) {
                out.append("stray-digit ").append(Integer.toHexString(cp)).append('\n');
            }
            if (type == Character.SURROGATE) {
                continue;
            }
            String text = new String(Character.toChars(cp));
            String lower = text.toLowerCase(Locale.ROOT);
            if (!lower.equals(text)) {
                out.append("lower ").append(Integer.toHexString(cp));
                lower.codePoints().forEach(c -> out.append(' ').append(Integer.toHexString(c)));
                out.append('\n');
            }
        }
        System.out.print(out);
    }
}
