"""SF-CPP-LOOP's static-bound analysis: is a ``for`` loop bounded by a compile-time constant?

A loop passes when it has the shape ``for (T i = init; i OP bound; STEP)`` with one induction
variable, a comparison of it against a constant (literal, constexpr/const-initialised variable,
enumerator, template parameter, ``sizeof``, ``size()`` of a std::array or C array, or a
constexpr function of constants), a step towards the bound (++/--/+= constant/-= constant), and
a body that never writes the induction variable (assignment, ++/--, address-of, non-const
reference argument or alias). Anything else is reported with the reason.
"""

from __future__ import annotations

from typing import Any

from .clang import AstChecker

__all__ = ["LoopBounds"]


class LoopBounds(AstChecker):
    """The loop-shape and constant-expression helpers used by :mod:`.hotpath`."""

    def for_problem(self, c: Any) -> str | None:
        K = self.K
        ch = list(c.get_children())
        if len(ch) != 4 or ch[0].kind != K.DECL_STMT:
            return "lacks the shape 'for (T i = init; i < bound; ++i)'"
        decls = [d for d in ch[0].get_children() if d.kind == K.VAR_DECL]
        if len(decls) != 1:
            return "declares more than one induction variable"
        iv = decls[0]
        cond, inc, body = ch[1], ch[2], ch[3]
        if cond.kind != K.BINARY_OPERATOR:
            return "has a condition that is not a comparison of the induction variable"
        op = self.binop(cond)
        lhs, rhs = [self.strip(x) for x in cond.get_children()]
        if self.refers_to(lhs, iv):
            bound, iv_left = rhs, True
        elif self.refers_to(rhs, iv):
            bound, iv_left = lhs, False
        else:
            return f"does not compare its induction variable '{iv.spelling}' in the condition"
        if op not in ("<", "<=", ">", ">=", "!="):
            return f"compares with '{op}', which does not bound the loop"
        if not self.is_constant(bound):
            return f"compares '{iv.spelling}' against a value that is not a compile-time constant"
        step = self.step_of(inc, iv)
        if step is None:
            return f"does not step '{iv.spelling}' by ++/--/+= constant/-= constant"
        up = op in ("<", "<=") if iv_left else op in (">", ">=")
        down = op in (">", ">=") if iv_left else op in ("<", "<=")
        if op == "!=":
            if step not in ("++", "--"):
                return "uses '!=' with a step other than ++/--"
        elif (up and step not in ("++", "+=")) or (down and step not in ("--", "-=")):
            return f"steps '{iv.spelling}' away from its bound"
        mod = self.modifies(body, iv)
        if mod is not None:
            return f"modifies its induction variable '{iv.spelling}' in the body (line {mod})"
        return None

    def refers_to(self, e: Any, var: Any) -> bool:
        e = self.strip(e)
        return e is not None and e.kind == self.K.DECL_REF_EXPR and e.referenced is not None and e.referenced == var

    def step_of(self, inc: Any, iv: Any) -> str | None:
        K = self.K
        if inc.kind == K.UNARY_OPERATOR:
            op = self.unop(inc)
            ch = list(inc.get_children())
            if op and op[0] in ("++", "--") and ch and self.refers_to(ch[0], iv):
                return op[0]
        if inc.kind == K.COMPOUND_ASSIGNMENT_OPERATOR:
            op = self.binop(inc)
            ch = list(inc.get_children())
            if op in ("+=", "-=") and len(ch) == 2 and self.refers_to(ch[0], iv) and self.is_constant(ch[1]):
                return op
        return None

    def modifies(self, body: Any, iv: Any) -> int | None:
        K = self.K
        for c in body.walk_preorder():
            if c.kind == K.UNARY_OPERATOR:
                op = self.unop(c)
                ch = list(c.get_children())
                if op and op[0] in ("++", "--", "&") and ch and self.refers_to(ch[0], iv):
                    return c.location.line
            elif c.kind in (K.BINARY_OPERATOR, K.COMPOUND_ASSIGNMENT_OPERATOR):
                ch = list(c.get_children())
                if len(ch) == 2 and self.refers_to(ch[0], iv):
                    op = self.binop(c)
                    if op is not None and op.endswith("=") and op not in ("==", "!=", "<=", ">="):
                        return c.location.line
            elif c.kind == K.CALL_EXPR:
                ref = c.referenced
                params = list(ref.get_arguments()) if self.is_function(ref) else []
                for i, a in enumerate(c.get_arguments()):
                    if self.refers_to(a, iv) and i < len(params):
                        t = params[i].type
                        if t.kind == self.T.LVALUEREFERENCE and not t.get_pointee().is_const_qualified():
                            return c.location.line
            elif c.kind == K.VAR_DECL:
                # T& alias = i;
                t = c.type
                if t.kind == self.T.LVALUEREFERENCE and not t.get_pointee().is_const_qualified():
                    for x in c.get_children():
                        if self.refers_to(x, iv):
                            return c.location.line
        return None

    def is_constant(self, e: Any, depth: int = 0) -> bool:
        K = self.K
        if e is None or depth > 16:
            return False
        e = self.strip(e)
        kind = e.kind
        if kind in (K.INTEGER_LITERAL, K.CHARACTER_LITERAL, K.CXX_BOOL_LITERAL_EXPR, K.CXX_UNARY_EXPR,
                    K.SIZE_OF_PACK_EXPR):
            return True
        if kind in (K.CXX_STATIC_CAST_EXPR, K.CSTYLE_CAST_EXPR, K.CXX_FUNCTIONAL_CAST_EXPR, K.UNEXPOSED_EXPR,
                    K.PAREN_EXPR):
            ch = [x for x in e.get_children() if x.kind.is_expression()]
            return len(ch) == 1 and self.is_constant(ch[0], depth + 1)
        if kind in (K.BINARY_OPERATOR, K.CONDITIONAL_OPERATOR):
            ch = list(e.get_children())
            return bool(ch) and all(self.is_constant(x, depth + 1) for x in ch)
        if kind == K.UNARY_OPERATOR:
            op = self.unop(e)
            ch = list(e.get_children())
            return op is not None and op[0] in ("-", "+", "~", "!") and len(ch) == 1 and \
                self.is_constant(ch[0], depth + 1)
        if kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR):
            ref = e.referenced
            if ref is None:
                return False
            if ref.kind in (K.ENUM_CONSTANT_DECL, K.TEMPLATE_NON_TYPE_PARAMETER):
                return True
            if ref.kind == K.VAR_DECL:
                return self.is_constant_var(ref, depth)
            return False
        if kind == K.CALL_EXPR:
            return self.is_constant_call(e, depth)
        return False

    def is_constant_var(self, v: Any, depth: int) -> bool:
        toks = [t.spelling for t in v.get_tokens()]
        if "constexpr" in toks or "constinit" in toks and "const" in toks:
            return True
        if not v.type.is_const_qualified():
            return False
        init = [x for x in v.get_children() if x.kind.is_expression()]
        return len(init) == 1 and self.is_constant(init[0], depth + 1)

    def is_constant_call(self, e: Any, depth: int) -> bool:
        K = self.K
        ref = e.referenced
        if ref is None:
            return False
        name = ref.spelling
        if name in ("size", "ssize", "max_size", "extent"):
            if ref.kind == K.CXX_METHOD:
                # x.size() on a std::array: the object is the MEMBER_REF_EXPR's child
                for ch in e.get_children():
                    if ch.kind == K.MEMBER_REF_EXPR:
                        objs = [x for x in ch.get_children() if x.kind.is_expression()]
                        if objs and self.is_fixed_array(objs[0].type):
                            return True
                        if not objs and self.is_fixed_array(ch.type):
                            return True
                return False
            args = list(e.get_arguments())
            return len(args) == 1 and self.is_fixed_array(args[0].type)
        # a constexpr/consteval function applied to constants (std::numeric_limits<T>::max())
        toks = {t.spelling for t in ref.get_tokens()} if ref.kind in (K.FUNCTION_DECL, K.CXX_METHOD) else set()
        if "constexpr" in toks or "consteval" in toks:
            args = list(e.get_arguments())
            member = [ch for ch in e.get_children() if ch.kind == K.MEMBER_REF_EXPR and
                      any(x.kind.is_expression() for x in ch.get_children())]
            return not member and all(self.is_constant(a, depth + 1) for a in args)
        return False
