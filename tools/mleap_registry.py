"""The ops MLeap's JVM runtime registers, read straight out of its jars (no JVM).

MLeap's runtime finds its ops through configuration: each module's ``reference.conf`` lists Op
classes under ``ml.combust.mleap.registry.*`` and adds those lists to the default registry
(``ml.combust.mleap.registry.default.ops += "<key>"``). The op *name* a bundle's model.json carries is
what each Op class's model answers from ``opName()``: either a string constant in that method or a
field of one of ``Bundle.BuiltinOps``'s Scala objects, set in its constructor. Both are read here
from the class files, so the list follows the jars in the cache and not a copy of MLeap's source.

    python -m tools.mleap_registry    # print op -> Op class, and what leapserve does with each

``REFUSED`` is the one list of registry ops leapserve does not read, each with its reason;
tests/tools/test_mleap_registry.py keeps it, leapserve's registry and the jar's registry in step.
"""

from __future__ import annotations

import re
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

# Op name in MLeap's runtime registry -> why leapserve does not read it. Every op of the registry is
# either read by leapserve (leapserve.runtime.registry.supported_ops()) or named here.
REFUSED = {
    "support_vector_machine": "MLeap extension wrapping Spark's old mllib SVM; not written by Spark ML pipelines; "
                              "not implemented yet",
    "map_entry_selector": "MLeap extension; map columns are outside leapserve's input types",
    "multinomial_labeler": "MLeap extension, not written by Spark; not implemented yet",
    "word_filter": "MLeap extension (WordLengthFilter), not written by Spark; not implemented yet",
    "coalesce": "MLeap runtime only, not written by Spark; not implemented yet",
    "regex_indexer": "MLeap runtime only, not written by Spark; not implemented yet",
    "categorical_drilldown": "MLeap runtime only, not written by Spark; not implemented yet",
    "sklearn_polynomial_expansion": "written only by MLeap's scikit-learn support; not implemented yet",
}

# MLeap modules whose ops are refused although their jars are not in the cache, so the registry read
# here cannot list them (docs/ops.md names them apart).
REFUSED_MODULES = {
    "tensorflow": "MLeap's mleap-tensorflow module; scoring needs TensorFlow",
}

REGISTRY_KEY = "ml.combust.mleap.registry.default.ops"
_BUILTIN_OPS_PREFIX = "ml/combust/bundle/dsl/Bundle$BuiltinOps"


class RegistryError(RuntimeError):
    pass


# --- reference.conf: the subset of HOCON MLeap's registry lists use --------------------------------

_LIST = re.compile(r'^\s*([\w.-]+)\s*=\s*\[(.*?)\]', re.S | re.M)
_APPEND = re.compile(r'^\s*([\w.-]+)\s*\+=\s*"([^"]*)"', re.M)
_QUOTED = re.compile(r'"([^"]*)"')


def registry_classes(confs: list[str]) -> list[str]:
    """Op class names the default registry holds, given the text of every ``reference.conf``.

    ``key = [ "a", "b" ]`` defines a list; ``REGISTRY_KEY += "key"`` adds a list (or one class) to the
    default registry; a list entry naming another list stands for that list's classes."""
    lists: dict[str, list[str]] = {}
    added: list[str] = []
    for text in confs:
        text = re.sub(r'(?m)^\s*(#|//).*$', "", text)
        for key, body in _LIST.findall(text):
            lists.setdefault(key, []).extend(_QUOTED.findall(body))
        added += [value for key, value in _APPEND.findall(text) if key == REGISTRY_KEY]
    added += lists.get(REGISTRY_KEY, [])

    classes: list[str] = []

    def expand(entry: str, seen: tuple[str, ...]) -> None:
        if entry in lists:
            if entry in seen:
                raise RegistryError(f"reference.conf: list {entry} includes itself")
            for item in lists[entry]:
                expand(item, seen + (entry,))
        elif entry not in classes:
            classes.append(entry)

    for entry in added:
        expand(entry, ())
    return classes


# --- class files: just enough of the format to read opName() --------------------------------------

@dataclass
class ClassFile:
    name: str                      # internal form, a/b/C
    pool: list                     # constant pool, index -> (tag, value) (None at unused slots)
    methods: dict                  # (name, descriptor) -> code bytes (b"" when abstract)

    def utf8(self, i: int) -> str:
        return self.pool[i][1]

    def class_name(self, i: int) -> str:
        return self.utf8(self.pool[i][1])

    def member(self, i: int) -> tuple[str, str, str]:
        """(owner class, name, descriptor) of a Fieldref or Methodref entry."""
        owner, name_and_type = self.pool[i][1]
        name, descriptor = self.pool[name_and_type][1]
        return self.class_name(owner), self.utf8(name), self.utf8(descriptor)

    def string(self, i: int) -> str | None:
        tag, value = self.pool[i]
        return self.utf8(value) if tag == 8 else None


def parse_class(data: bytes) -> ClassFile:
    """The constant pool and the methods' code of a class file (JVM spec chapter 4)."""
    if data[:4] != b"\xca\xfe\xba\xbe":
        raise RegistryError("not a class file")
    pos = 10
    (count,) = struct.unpack_from(">H", data, 8)
    pool: list = [None] * count
    i = 1
    while i < count:
        tag = data[pos]
        pos += 1
        if tag == 1:
            (length,) = struct.unpack_from(">H", data, pos)
            pool[i] = (1, data[pos + 2:pos + 2 + length].decode("utf-8", "surrogatepass"))
            pos += 2 + length
        elif tag in (7, 8, 16, 19, 20):          # Class, String, MethodType, Module, Package
            pool[i] = (tag, struct.unpack_from(">H", data, pos)[0])
            pos += 2
        elif tag in (9, 10, 11, 12, 18, 17):     # refs, NameAndType, (Invoke)Dynamic
            pool[i] = (tag, struct.unpack_from(">HH", data, pos))
            pos += 4
        elif tag in (3, 4):                      # Integer, Float
            pos += 4
        elif tag in (5, 6):                      # Long, Double take two slots
            pos += 8
            i += 1
        elif tag == 15:                          # MethodHandle
            pos += 3
        else:
            raise RegistryError(f"unknown constant pool tag {tag}")
        i += 1
    _access, this_class, _super, interfaces = struct.unpack_from(">HHHH", data, pos)
    pos += 8 + 2 * interfaces
    cls = ClassFile("", pool, {})
    cls.name = cls.class_name(this_class)

    def attributes(pos: int) -> tuple[int, dict[str, bytes]]:
        (n,) = struct.unpack_from(">H", data, pos)
        pos += 2
        found = {}
        for _ in range(n):
            name, length = struct.unpack_from(">HI", data, pos)
            found[cls.utf8(name)] = data[pos + 6:pos + 6 + length]
            pos += 6 + length
        return pos, found

    (fields,) = struct.unpack_from(">H", data, pos)
    pos += 2
    for _ in range(fields):
        pos, _ = attributes(pos + 6)
    (methods,) = struct.unpack_from(">H", data, pos)
    pos += 2
    for _ in range(methods):
        _flags, name, descriptor = struct.unpack_from(">HHH", data, pos)
        pos, attrs = attributes(pos + 6)
        code = attrs.get("Code", b"")
        if code:
            (length,) = struct.unpack_from(">I", code, 4)
            code = code[8:8 + length]
        cls.methods[(cls.utf8(name), cls.utf8(descriptor))] = code
    return cls


# Bytecode of the few instructions the methods read here use.
_ALOAD_0, _LDC, _LDC_W, _ARETURN = 0x2A, 0x12, 0x13, 0xB0
_GETSTATIC, _GETFIELD, _PUTFIELD, _INVOKEVIRTUAL = 0xB2, 0xB4, 0xB5, 0xB6
_STRING = "()Ljava/lang/String;"


def _constant_string(cls: ClassFile, code: bytes, at: int) -> tuple[str | None, int]:
    """The String constant an ldc/ldc_w at ``at`` pushes, and the next instruction's offset."""
    if code[at] == _LDC:
        return cls.string(code[at + 1]), at + 2
    if code[at] == _LDC_W:
        return cls.string(struct.unpack_from(">H", code, at + 1)[0]), at + 3
    return None, at


class Jars:
    """The class files and reference.conf files of a set of jars."""

    def __init__(self, paths: list[Path]):
        self.paths = [Path(p) for p in paths]
        self._where: dict[str, Path] = {}
        self._classes: dict[str, ClassFile] = {}
        for path in self.paths:
            with zipfile.ZipFile(path) as jar:
                for entry in jar.namelist():
                    self._where.setdefault(entry, path)

    def reference_confs(self) -> list[str]:
        texts = []
        for path in self.paths:
            with zipfile.ZipFile(path) as jar:
                if "reference.conf" in jar.namelist():
                    texts.append(jar.read("reference.conf").decode("utf-8"))
        return texts

    def load(self, name: str) -> ClassFile | None:
        """A class by internal name (a/b/C), or None when no jar holds it."""
        if name not in self._classes:
            entry = name + ".class"
            if entry not in self._where:
                return None
            with zipfile.ZipFile(self._where[entry]) as jar:
                self._classes[name] = parse_class(jar.read(entry))
        return self._classes[name]

    def nested(self, name: str) -> list[str]:
        """The class and the classes nested in it (Name$...), internal names."""
        prefix = name + "$"
        return [name] + sorted(e[:-6] for e in self._where if e.startswith(prefix) and e.endswith(".class"))

    def field_constant(self, owner: str, getter: str) -> str | None:
        """The string a Scala object's ``val`` holds: its getter reads a field its constructor sets."""
        cls = self.load(owner)
        code = cls.methods.get((getter, _STRING)) if cls else None
        if not code or code[0] != _ALOAD_0 or code[1] != _GETFIELD:
            return None
        _, field, _ = cls.member(struct.unpack_from(">H", code, 2)[0])
        init = cls.methods.get(("<init>", "()V"), b"")
        # The constructor sets each val with: aload_0; ldc "value"; putfield <val>.
        for at in range(len(init) - 3):
            if init[at] in (_LDC, _LDC_W):
                value, nxt = _constant_string(cls, init, at)
                if value is None or nxt + 3 > len(init) or init[nxt] != _PUTFIELD:
                    continue
                ref = struct.unpack_from(">H", init, nxt + 1)[0]
                if ref < len(cls.pool) and cls.pool[ref] and cls.pool[ref][0] == 9 and cls.member(ref)[1] == field:
                    return value
        return None

    def op_name(self, op_class: str) -> str:
        """The op name an Op class's model answers from ``opName()``."""
        internal = op_class.replace(".", "/")
        if self.load(internal) is None:
            raise RegistryError(f"registry class {op_class} is in no jar of {self._describe()}")
        names = set()
        for name in self.nested(internal):
            cls = self.load(name)
            code = cls.methods.get(("opName", _STRING))
            if not code:
                continue
            value, nxt = _constant_string(cls, code, 0)
            if value is not None and code[nxt] == _ARETURN:
                names.add(value)
                continue
            # getstatic Bundle$BuiltinOps$...$.MODULE$; invokevirtual <getter>; areturn
            if len(code) >= 7 and code[0] == _GETSTATIC and code[3] == _INVOKEVIRTUAL and code[6] == _ARETURN:
                owner, getter, descriptor = cls.member(struct.unpack_from(">H", code, 4)[0])
                if owner.startswith(_BUILTIN_OPS_PREFIX) and descriptor == _STRING:
                    value = self.field_constant(owner, getter)
                    if value is not None:
                        names.add(value)
                        continue
            raise RegistryError(f"{name.replace('/', '.')}.opName() is not a form this reader knows")
        if len(names) != 1:
            raise RegistryError(f"{op_class}: expected one opName(), found {sorted(names) or 'none'}")
        return names.pop()

    def _describe(self) -> str:
        return ", ".join(p.name for p in self.paths)


def registry_ops(paths: list[Path] | None = None) -> dict[str, str]:
    """op name -> Op class, for every op MLeap's runtime registers by default.

    ``paths`` are the jars to read; by default MLeap's runtime jar set in leapserve's cache (fetched by
    ``python -m tools.mleap_jvm fetch``), which raises JarsMissing when it is not there."""
    if paths is None:
        from tools.mleap_jvm import MLEAP_RUNTIME

        paths = [Path(p) for p in MLEAP_RUNTIME.classpath()]
    jars = Jars(paths)
    classes = registry_classes(jars.reference_confs())
    if not classes:
        raise RegistryError(f"no {REGISTRY_KEY} in the reference.conf of {jars._describe()}")
    ops: dict[str, str] = {}
    for op_class in classes:
        name = jars.op_name(op_class)
        if name in ops:
            raise RegistryError(f"op {name} is registered by both {ops[name]} and {op_class}")
        ops[name] = op_class
    return dict(sorted(ops.items()))


def coverage_problems(registry: dict[str, str], read, refused: dict[str, str]) -> list[str]:
    """What breaks the rule that every op of MLeap's registry is read by leapserve or refused with a
    reason: registry ops that are neither, and refused ops the registry lacks or leapserve reads."""
    problems = [f"op {name} ({op_class}) of MLeap's runtime registry is neither read by leapserve nor "
                f"in tools/mleap_registry.py REFUSED" for name, op_class in registry.items()
                if name not in read and name not in refused]
    for name in refused:
        if name not in registry:
            problems.append(f"REFUSED names op {name}, which MLeap's runtime registry does not have")
        elif name in read:
            problems.append(f"REFUSED names op {name}, which leapserve now reads: take it out of REFUSED")
    return problems


def main() -> int:
    from leapserve.runtime.registry import supported_ops

    read = supported_ops()
    registry = registry_ops()
    for name, op_class in registry.items():
        status = "read" if name in read else f"refused: {REFUSED.get(name, 'NOT LISTED in REFUSED')}"
        print(f"{name:36} {op_class:70} {status}")
    problems = coverage_problems(registry, read, REFUSED)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
