"""The file-wide rules: what a strategy never does anywhere in its file, constructor included.

SF-CPP-SYSCALL, -IO, -CLOCK, -LOCK, -THREAD, -GLOBAL-STATE (by the functions, types and objects
named in the tables below), -ASM, -UNSAFE-CAST and -VOLATILE (by AST node kind).

Qualified names are normalised (:meth:`.clang.AstChecker.qname`): inline/implementation namespaces
that start with '_' (std::__cxx11, std::chrono::_V2, std::__1) are dropped and template arguments
are not part of the name. C functions match bare or with std:: in front. A name ending in ``*``
matches as a prefix.
"""

from __future__ import annotations

from typing import Any

from .clang import AstChecker

__all__ = ["FileWideChecks"]

# file-wide rules: exact names, and prefixes
_FILE_FUNCTIONS: dict[str, str] = {}
_FILE_PREFIXES: list[tuple[str, str]] = []


def _names(rule: str, names: str) -> None:
    for n in names.split():
        if n.endswith("*"):
            _FILE_PREFIXES.append((n[:-1], rule))
        else:
            _FILE_FUNCTIONS[n] = rule


_names("SF-CPP-SYSCALL", """
    syscall fork vfork clone execl execle execlp execv execve execvp execvpe fexecve system popen
    pclose posix_spawn posix_spawnp kill raise signal sigaction sigprocmask pause alarm setitimer
    mmap munmap mprotect mremap madvise mlock munlock ioctl fcntl prctl ptrace sleep usleep
    nanosleep clock_nanosleep std::this_thread::sleep_for std::this_thread::sleep_until exit _exit
    _Exit abort quick_exit atexit at_quick_exit std::terminate setjmp longjmp _setjmp _longjmp
    sigsetjmp siglongjmp getenv secure_getenv setenv unsetenv putenv clearenv getpid getppid
    gettid getuid geteuid setuid setgid chdir chroot dlopen dlsym dlclose
    """)
_names("SF-CPP-IO", """
    fopen fopen64 fdopen freopen fclose fread fwrite fgets fgetc getc fputc putc fputs fprintf
    vfprintf printf vprintf dprintf puts putchar getchar scanf fscanf vscanf vfscanf perror
    fflush fseek fseeko ftell ftello rewind tmpfile tmpnam remove rename open open64 openat creat
    read write pread pwrite readv writev close lseek dup dup2 dup3 pipe pipe2 socket socketpair
    connect bind listen accept accept4 send sendto sendmsg recv recvfrom recvmsg select pselect
    poll ppoll epoll_create epoll_create1 epoll_ctl epoll_wait getaddrinfo gethostbyname shutdown
    unlink mkdir rmdir stat fstat lstat opendir readdir closedir truncate ftruncate sync fsync
    std::filesystem::*
    """)
_names("SF-CPP-CLOCK", """
    time gettimeofday clock_gettime clock clock_getres ftime timespec_get localtime localtime_r
    gmtime gmtime_r mktime ctime asctime strftime __rdtsc __rdtscp _rdtsc __builtin_ia32_rdtsc
    __builtin_ia32_rdtscp __builtin_readcyclecounter __builtin_readsteadycounter
    std::chrono::system_clock::* std::chrono::steady_clock::*
    std::chrono::high_resolution_clock::* std::chrono::utc_clock::* std::chrono::tai_clock::*
    std::chrono::gps_clock::* std::chrono::file_clock::*
    """)
_names("SF-CPP-LOCK", """
    pthread_mutex_* pthread_spin_* pthread_rwlock_* pthread_cond_* pthread_barrier_* sem_*
    std::call_once flock lockf
    """)
_names("SF-CPP-THREAD", """
    pthread_* thrd_* std::async std::this_thread::yield std::this_thread::get_id
    std::atomic_wait std::atomic_wait_explicit std::atomic_notify_one std::atomic_notify_all
    std::atomic_flag_wait std::atomic_flag_wait_explicit std::atomic_flag_notify_one
    std::atomic_flag_notify_all
    """)
_names("SF-CPP-GLOBAL-STATE", "rand srand random srandom drand48 srand48 lrand48 mrand48")

# types whose mere use is a file-wide finding
_FILE_TYPES: dict[str, str] = {}
_FILE_TYPE_PREFIXES: list[tuple[str, str]] = []


def _types(rule: str, names: str) -> None:
    for n in names.split():
        if n.endswith("*"):
            _FILE_TYPE_PREFIXES.append((n[:-1], rule))
        else:
            _FILE_TYPES[n] = rule


_types("SF-CPP-LOCK", """
    std::mutex std::timed_mutex std::recursive_mutex std::recursive_timed_mutex std::shared_mutex
    std::shared_timed_mutex std::lock_guard std::unique_lock std::scoped_lock std::shared_lock
    std::condition_variable std::condition_variable_any std::counting_semaphore std::latch
    std::barrier std::once_flag pthread_mutex_t pthread_spinlock_t pthread_rwlock_t
    pthread_cond_t sem_t
    """)
_types("SF-CPP-THREAD", """
    std::thread std::jthread std::future std::shared_future std::promise std::packaged_task
    std::stop_source std::stop_token std::stop_callback pthread_t pthread_attr_t thrd_t
    """)
_types("SF-CPP-IO", """
    FILE _IO_FILE std::basic_ios std::basic_istream std::basic_ostream std::basic_iostream
    std::basic_ifstream std::basic_ofstream std::basic_fstream std::basic_filebuf
    std::basic_streambuf std::filesystem::*
    """)
_types("SF-CPP-CLOCK", """
    std::chrono::system_clock std::chrono::steady_clock std::chrono::high_resolution_clock
    std::chrono::utc_clock std::chrono::tai_clock std::chrono::gps_clock std::chrono::file_clock
    """)
_types("SF-CPP-SYSCALL", "std::random_device jmp_buf sigjmp_buf")

# console stream objects
_IO_VARIABLES = frozenset({"std::cout", "std::cerr", "std::clog", "std::cin", "std::wcout",
                           "std::wcerr", "std::wclog", "std::wcin", "stdin", "stdout", "stderr",
                           "environ", "__environ"})
_ATOMIC_CLASSES = frozenset({"std::atomic", "std::atomic_ref", "std::atomic_flag",
                             "std::__atomic_base", "std::__atomic_float", "std::__atomic_ref"})
_ATOMIC_WAIT = frozenset({"wait", "notify_one", "notify_all"})


class FileWideChecks(AstChecker):
    """The file-wide rules over every cursor written in the main file."""

    def file_rule_for_function(self, qn: str) -> str | None:
        for n in self._name_candidates(qn):
            if n in _FILE_FUNCTIONS:
                return _FILE_FUNCTIONS[n]
        for prefix, rule in _FILE_PREFIXES:
            if qn.startswith(prefix):
                return rule
        return None

    def file_rule_for_type(self, qn: str) -> str | None:
        for n in self._name_candidates(qn):
            if n in _FILE_TYPES:
                return _FILE_TYPES[n]
        for prefix, rule in _FILE_TYPE_PREFIXES:
            if qn.startswith(prefix):
                return rule
        return None

    def check_file_rules(self, cursors: list[Any]) -> None:
        K, T = self.K, self.T
        for c in cursors:
            kind = c.kind
            if kind in (K.DECL_REF_EXPR, K.MEMBER_REF_EXPR, K.CALL_EXPR, K.OVERLOADED_DECL_REF):
                ref = c.referenced
                if kind == K.OVERLOADED_DECL_REF:
                    qn = c.spelling
                    rule = self.file_rule_for_function(qn)
                    if rule:
                        self.at(c, rule, _file_message(rule, qn))
                    continue
                if ref is None:
                    continue
                if self.is_function(ref):
                    qn = self.qname(ref)
                    rule = self.file_rule_for_function(qn)
                    if rule:
                        self.at(c, rule, _file_message(rule, qn))
                    elif ref.spelling in _ATOMIC_WAIT and ref.semantic_parent is not None and \
                            self.qname(ref.semantic_parent) in _ATOMIC_CLASSES:
                        self.at(c, "SF-CPP-THREAD", f"{self.qname(ref.semantic_parent)}::{ref.spelling} blocks or "
                                "signals another thread: a strategy is single-threaded; remove it")
                elif ref.kind == K.VAR_DECL and kind == K.DECL_REF_EXPR:
                    qn = self.qname(ref)
                    if qn in _IO_VARIABLES:
                        rule = "SF-CPP-SYSCALL" if "environ" in qn else "SF-CPP-IO"
                        self.at(c, rule, _file_message(rule, qn))
            elif kind in (K.TYPE_REF, K.TEMPLATE_REF):
                ref = c.referenced
                if ref is None:
                    continue
                decl = ref
                if ref.kind == K.TYPEDEF_DECL and not self.in_main(ref):
                    # a library typedef (std::ofstream): judge what it names, and the typedef name
                    rule = self.file_rule_for_type(self.qname(ref))
                    if rule:
                        self.at(c, rule, _type_message(rule, self.qname(ref)))
                        continue
                    under = ref.underlying_typedef_type.get_canonical()
                    if under.kind == T.RECORD:
                        decl = under.get_declaration()
                qn = self.qname(decl)
                rule = self.file_rule_for_type(qn)
                if rule:
                    self.at(c, rule, _type_message(rule, qn))
            elif kind in (K.ASM_STMT, K.MS_ASM_STMT):
                self.at(c, "SF-CPP-ASM", "inline assembly is not allowed in strategy code: write portable C++")
            elif kind == K.CXX_REINTERPRET_CAST_EXPR:
                self.at(c, "SF-CPP-UNSAFE-CAST", "reinterpret_cast defeats the type system: use static_cast "
                        "for numbers or std::bit_cast to reinterpret bits")
            elif kind == K.CXX_CONST_CAST_EXPR:
                self.at(c, "SF-CPP-UNSAFE-CAST", "const_cast can write to read-only host data: drop the cast "
                        "and copy the value into a member")
            elif kind == K.CSTYLE_CAST_EXPR:
                to = c.type.get_canonical()
                if to.kind == T.VOID:
                    continue
                ch = [x for x in c.get_children() if x.kind.is_expression()]
                src = ch[-1].type.get_canonical() if ch else None
                if to.kind in (T.POINTER, T.MEMBERPOINTER) or (src is not None and src.kind == T.POINTER):
                    self.at(c, "SF-CPP-UNSAFE-CAST", "C-style cast involving a pointer: use static_cast (or "
                            "std::bit_cast); pointer casts break aliasing and constness")
            elif kind in (K.VAR_DECL, K.FIELD_DECL, K.PARM_DECL):
                if _is_volatile(c.type, T):
                    self.at(c, "SF-CPP-VOLATILE", f"'{c.spelling}' is volatile: a strategy is single-threaded and "
                            "never touches device memory; drop the qualifier")
                if kind == K.VAR_DECL:
                    self.check_static_storage(c)

    def check_static_storage(self, c: Any) -> None:
        K = self.K
        parent = c.semantic_parent
        pk = parent.kind if parent is not None else K.TRANSLATION_UNIT
        tls = False
        try:
            tls = c.tls_kind.name != "NONE"
        except Exception:  # noqa: BLE001 - bindings without tls_kind
            tls = False
        try:
            static_local = c.storage_class.name == "STATIC"
        except Exception:  # noqa: BLE001
            static_local = False
        is_global = pk in (K.TRANSLATION_UNIT, K.NAMESPACE, K.LINKAGE_SPEC, K.UNEXPOSED_DECL)
        is_member = pk in (K.STRUCT_DECL, K.CLASS_DECL, K.CLASS_TEMPLATE, K.UNION_DECL)
        if not (is_global or is_member or static_local or tls):
            return
        if _is_const(c.type, self.T) and not tls:
            return
        what = ("thread_local variable" if tls else "namespace-scope variable" if is_global else
                "static data member" if is_member else "static local variable")
        self.at(c, "SF-CPP-GLOBAL-STATE",
                f"mutable {what} '{c.spelling}': state outside the strategy object is shared between "
                "instances (live and shadow) and survives hot swap; make it a member, or constexpr if "
                "it is a constant")


def _is_const(t: Any, T: Any) -> bool:
    t = t.get_canonical()
    while t.kind in (T.CONSTANTARRAY, T.INCOMPLETEARRAY, T.VARIABLEARRAY, T.DEPENDENTSIZEDARRAY):
        if t.is_const_qualified():
            return True
        t = t.element_type.get_canonical()
    if t.kind in (T.LVALUEREFERENCE, T.RVALUEREFERENCE):
        return t.get_pointee().is_const_qualified()
    return t.is_const_qualified()


def _is_volatile(t: Any, T: Any) -> bool:
    for _ in range(4):
        if t.is_volatile_qualified():
            return True
        if t.kind in (T.POINTER, T.LVALUEREFERENCE, T.RVALUEREFERENCE):
            t = t.get_pointee()
        elif t.kind in (T.CONSTANTARRAY, T.INCOMPLETEARRAY):
            t = t.element_type
        else:
            return False
    return False


_FIX = {
    "SF-CPP-SYSCALL": "a strategy never controls the process or reads the environment; report problems with "
                      "ctx.log() and an early return, or throw from the constructor",
    "SF-CPP-IO": "use ctx.log(level, msg) for diagnostics; inputs arrive only as events and parameters",
    "SF-CPP-CLOCK": "read time from the event (book.ts(), trade.recv_ts) or ctx.now()",
    "SF-CPP-LOCK": "the engine calls a strategy from one thread; keep plain members",
    "SF-CPP-THREAD": "a strategy runs only inside its callbacks; use ctx.set_timer() for deferred work",
    "SF-CPP-GLOBAL-STATE": "use a seeded engine member (std::mt19937_64 seeded from CreateArgs::seed)",
}


def _file_message(rule: str, qn: str) -> str:
    return f"{qn} is not allowed in strategy code: {_FIX[rule]}"


def _type_message(rule: str, qn: str) -> str:
    return f"use of {qn} is not allowed in strategy code: {_FIX[rule]}"
