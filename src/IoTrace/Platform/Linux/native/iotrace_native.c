// Native half of the in-process backend (Linux, glibc).
//
// It rebinds GOT slots of already-loaded libraries to trampolines. A trampoline forwards to the managed
// hook only while a trace is active and only when the call comes from code that runs on a managed thread
// in a normal context: libSystem.Native also calls write() from its signal handler and close()/dup2() in a
// vfork child, where entering managed code would deadlock or corrupt the parent. Everything that needs the
// runtime (trace lookup, stacks, aggregation) stays in C#.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define IOTRACE_EXPORT __attribute__((visibility("default")))
#define MAX_SLOTS 256
#define MAX_LIBS 64
#define MAX_SYMBOLS 128
#define MAX_FRAMES 256
#define MAX_SYSCALL_SLOTS 8
#define MAX_NAMEINFO_SLOTS 4

#if defined(__x86_64__)
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#define R_ABS64 R_X86_64_64
#elif defined(__aarch64__)
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#define R_ABS64 R_AARCH64_ABS64
#else
#error "unsupported architecture"
#endif

typedef long (*fn6_t)(long, long, long, long, long, long);

// Layout shared with NativeShim.Slot in C#: keep every field, in this order.
typedef struct iotrace_slot
{
    void* original;
    int32_t symbol;
    int32_t library;
    void** got;
    int32_t patched;
    // Whether the library keeps frame pointers, so iotrace_callsite_key can walk through its frames.
    int32_t frame_pointers;
    // What the GOT held before: the original target, or syscall(2) for a slot that serves one system call made
    // through it (syscall_number, else 0), whose original is then a function making that one system call. A
    // getnameinfo slot's original passes on the flags its trampoline kept.
    void* restore;
    int32_t syscall_number;
} iotrace_slot;

typedef long (*managed_hook_t)(iotrace_slot*, long, long, long, long, long, long);

typedef struct
{
    uintptr_t start;
    uintptr_t end;
} range_t;

typedef struct
{
    char path[512];
    uintptr_t base;
    uintptr_t text_start;
    uintptr_t text_end;
    // When set, calls made from inside this library's text are forwarded only from the listed ranges.
    range_t* allowed;
    int allowed_count;
    int filtered;
    // Pages the loader made read-only after relocation (PT_GNU_RELRO); others stay writable.
    uintptr_t relro_start;
    uintptr_t relro_end;
} library_t;

static iotrace_slot g_slots[MAX_SLOTS];
static int g_slot_count;
static library_t g_libs[MAX_LIBS];
static int g_lib_count;
static char* g_symbols[MAX_SYMBOLS];
static int g_symbol_count;
static char g_app_dir[512];
static volatile managed_hook_t g_hook;
static volatile int g_active;
static volatile int g_installed;
static unsigned long long g_seen_adds;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void* (*g_real_dlopen)(const char*, int);
typedef struct
{
    void** got;
    void* original;
    uintptr_t relro_start;
    uintptr_t relro_end;
} dlopen_slot_t;
static dlopen_slot_t g_dlopen_slots[8];
static int g_dlopen_slot_count;

// A kernel backend's watch on libraries loaded under a folder (iotrace_watch_loads): told of each new one
// before its dlopen returns, so it can learn the library before the library's first call.
typedef void (*load_callback_t)(const char* path);
static volatile load_callback_t g_load_callback;
static char g_watch_dir[512];
static unsigned long long g_watch_adds;
static uintptr_t g_watch_seen[MAX_LIBS];
static int g_watch_seen_count;

static int allowed(const iotrace_slot* slot, uintptr_t return_address)
{
    const library_t* lib = &g_libs[slot->library];
    if (!lib->filtered || return_address < lib->text_start || return_address >= lib->text_end)
    {
        return 1;
    }
    int lo = 0, hi = lib->allowed_count - 1;
    while (lo <= hi)
    {
        int mid = (lo + hi) >> 1;
        if (return_address < lib->allowed[mid].start)
            hi = mid - 1;
        else if (return_address >= lib->allowed[mid].end)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

static inline __attribute__((always_inline)) long dispatch(int index, long a, long b, long c, long d, long e, long f, void* return_address)
{
    iotrace_slot* slot = &g_slots[index];
    managed_hook_t hook = g_hook;
    if (__atomic_load_n(&g_active, __ATOMIC_RELAXED) > 0 && hook != NULL && allowed(slot, (uintptr_t)return_address))
    {
        return hook(slot, a, b, c, d, e, f);
    }
    return ((fn6_t)slot->original)(a, b, c, d, e, f);
}

// One trampoline per slot: the index is baked in, all six integer argument registers pass through.
// The generated digits are octal (T64(3) yields 0300..0377), hence the leading 0 on the index.
#define TRAMPOLINE(i) \
    static long trampoline_##i(long a, long b, long c, long d, long e, long f) \
    { \
        return dispatch(0##i, a, b, c, d, e, f, __builtin_return_address(0)); \
    }
#define T8(n) TRAMPOLINE(n##0) TRAMPOLINE(n##1) TRAMPOLINE(n##2) TRAMPOLINE(n##3) TRAMPOLINE(n##4) TRAMPOLINE(n##5) TRAMPOLINE(n##6) TRAMPOLINE(n##7)
#define T64(n) T8(n##0) T8(n##1) T8(n##2) T8(n##3) T8(n##4) T8(n##5) T8(n##6) T8(n##7)
T64(0) T64(1) T64(2) T64(3)
#define R8(n) trampoline_##n##0, trampoline_##n##1, trampoline_##n##2, trampoline_##n##3, trampoline_##n##4, trampoline_##n##5, trampoline_##n##6, trampoline_##n##7,
#define R64(n) R8(n##0) R8(n##1) R8(n##2) R8(n##3) R8(n##4) R8(n##5) R8(n##6) R8(n##7)
static fn6_t const g_trampolines[MAX_SLOTS] = { R64(0) R64(1) R64(2) R64(3) };

// libSystem.Native makes copy_file_range through syscall(2) (File.Copy). syscall is variadic, but on x86_64 and arm64
// Linux its integer arguments are passed as a non-variadic function's are: the number and six arguments, the last on
// the stack on x86_64. A trampoline per library's syscall slot forwards copy_file_range to the hook with its six
// arguments, and every other number to syscall(2) untouched.
typedef long (*fn7_t)(long, long, long, long, long, long, long);
static fn7_t volatile g_real_syscall;
static int g_syscall_slots[MAX_SYSCALL_SLOTS];
static int g_syscall_slot_count;

static long syscall_copy_file_range(long a, long b, long c, long d, long e, long f)
{
    return g_real_syscall(SYS_copy_file_range, a, b, c, d, e, f);
}

#define SYSCALL_TRAMPOLINE(i) \
    static long syscall_trampoline_##i(long n, long a, long b, long c, long d, long e, long f) \
    { \
        if (n == SYS_copy_file_range) \
            return dispatch(g_syscall_slots[i], a, b, c, d, e, f, __builtin_return_address(0)); \
        return g_real_syscall(n, a, b, c, d, e, f); \
    }
SYSCALL_TRAMPOLINE(0) SYSCALL_TRAMPOLINE(1) SYSCALL_TRAMPOLINE(2) SYSCALL_TRAMPOLINE(3)
SYSCALL_TRAMPOLINE(4) SYSCALL_TRAMPOLINE(5) SYSCALL_TRAMPOLINE(6) SYSCALL_TRAMPOLINE(7)
static fn7_t const g_syscall_trampolines[MAX_SYSCALL_SLOTS] = {
    syscall_trampoline_0, syscall_trampoline_1, syscall_trampoline_2, syscall_trampoline_3,
    syscall_trampoline_4, syscall_trampoline_5, syscall_trampoline_6, syscall_trampoline_7,
};

// getnameinfo has seven arguments, its flags the seventh: on the stack on x86_64, in a register the six-argument
// trampolines do not pass on arm64. Through one of those the call would get another word as its flags (a reverse
// lookup then answered with the address itself). Its slots get trampolines of seven, which keep the flags in a
// thread-local for the call the hook makes (saved and restored around it, should the hook's thread make another).
static fn7_t volatile g_real_getnameinfo;
static __thread long t_getnameinfo_flags;
static int g_nameinfo_slots[MAX_NAMEINFO_SLOTS];
static int g_nameinfo_slot_count;

static long getnameinfo_with_flags(long a, long b, long c, long d, long e, long f)
{
    return g_real_getnameinfo(a, b, c, d, e, f, t_getnameinfo_flags);
}

#define NAMEINFO_TRAMPOLINE(i) \
    static long nameinfo_trampoline_##i(long a, long b, long c, long d, long e, long f, long flags) \
    { \
        long saved = t_getnameinfo_flags; \
        t_getnameinfo_flags = flags; \
        long result = dispatch(g_nameinfo_slots[i], a, b, c, d, e, f, __builtin_return_address(0)); \
        t_getnameinfo_flags = saved; \
        return result; \
    }
NAMEINFO_TRAMPOLINE(0) NAMEINFO_TRAMPOLINE(1) NAMEINFO_TRAMPOLINE(2) NAMEINFO_TRAMPOLINE(3)
static fn7_t const g_nameinfo_trampolines[MAX_NAMEINFO_SLOTS] = {
    nameinfo_trampoline_0, nameinfo_trampoline_1, nameinfo_trampoline_2, nameinfo_trampoline_3,
};

// The trampoline of seven serving a slot from a set of them, given one the first time (the caller checked that one is left).
static void* trampoline_for(int index, int* slots, int* count, fn7_t const* trampolines)
{
    for (int i = 0; i < *count; i++)
    {
        if (slots[i] == index)
            return (void*)trampolines[i];
    }
    slots[*count] = index;
    return (void*)trampolines[(*count)++];
}

static int write_slot_in(uintptr_t relro_start, uintptr_t relro_end, void** got, void* value)
{
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)got & ~(uintptr_t)(page - 1);
    int relro = start >= relro_start && start + (uintptr_t)page <= relro_end;
    // The GOT of a BIND_NOW library sits in RELRO: make the page writable just for the store.
    if (relro && mprotect((void*)start, (size_t)page, PROT_READ | PROT_WRITE) != 0)
    {
        return -1;
    }
    __atomic_store_n(got, value, __ATOMIC_RELEASE);
    if (relro)
        mprotect((void*)start, (size_t)page, PROT_READ);
    return 0;
}

static int write_slot(const library_t* lib, void** got, void* value)
{
    return write_slot_in(lib->relro_start, lib->relro_end, got, value);
}

static uintptr_t dyn_ptr(uintptr_t base, uintptr_t value)
{
    // glibc relocates d_ptr in place on most targets; be robust to both forms.
    return value < base ? value + base : value;
}

static size_t gnu_hash_symbol_count(const uint32_t* table)
{
    uint32_t nbuckets = table[0], symoffset = table[1], bloom_size = table[2];
    const uint32_t* buckets = (const uint32_t*)((const ElfW(Addr)*)(table + 4) + bloom_size);
    const uint32_t* chain = buckets + nbuckets;
    uint32_t last = 0;
    for (uint32_t i = 0; i < nbuckets; i++)
    {
        if (buckets[i] > last)
            last = buckets[i];
    }
    if (last < symoffset)
        return symoffset;
    while ((chain[last - symoffset] & 1) == 0)
        last++;
    return last + 1;
}

static int compare_ranges(const void* left, const void* right)
{
    const range_t* a = left;
    const range_t* b = right;
    return a->start < b->start ? -1 : a->start > b->start;
}

static int symbol_index(const char* name)
{
    for (int i = 0; i < g_symbol_count; i++)
    {
        if (strcmp(g_symbols[i], name) == 0)
            return i;
    }
    return -1;
}

typedef struct
{
    const ElfW(Sym)* symtab;
    const char* strtab;
    const ElfW(Rela)* jmprel;
    size_t jmprel_size;
    const ElfW(Rela)* rela;
    size_t rela_size;
    const uint32_t* gnu_hash;
    const uint32_t* sysv_hash;
} dynamic_t;

static void read_dynamic(struct dl_phdr_info* info, dynamic_t* dyn)
{
    memset(dyn, 0, sizeof(*dyn));
    for (int p = 0; p < info->dlpi_phnum; p++)
    {
        if (info->dlpi_phdr[p].p_type != PT_DYNAMIC)
            continue;
        const ElfW(Dyn)* d = (const ElfW(Dyn)*)(info->dlpi_addr + info->dlpi_phdr[p].p_vaddr);
        for (; d->d_tag != DT_NULL; d++)
        {
            uintptr_t ptr = dyn_ptr(info->dlpi_addr, d->d_un.d_ptr);
            switch (d->d_tag)
            {
            case DT_SYMTAB: dyn->symtab = (const ElfW(Sym)*)ptr; break;
            case DT_STRTAB: dyn->strtab = (const char*)ptr; break;
            case DT_JMPREL: dyn->jmprel = (const ElfW(Rela)*)ptr; break;
            case DT_PLTRELSZ: dyn->jmprel_size = d->d_un.d_val; break;
            case DT_RELA: dyn->rela = (const ElfW(Rela)*)ptr; break;
            case DT_RELASZ: dyn->rela_size = d->d_un.d_val; break;
            case DT_GNU_HASH: dyn->gnu_hash = (const uint32_t*)ptr; break;
            case DT_HASH: dyn->sysv_hash = (const uint32_t*)ptr; break;
            }
        }
    }
}

static void collect_allowed_ranges(library_t* lib, struct dl_phdr_info* info, const dynamic_t* dyn)
{
    size_t count = dyn->gnu_hash ? gnu_hash_symbol_count(dyn->gnu_hash) : dyn->sysv_hash ? dyn->sysv_hash[1] : 0;
    lib->allowed = calloc(count ? count : 1, sizeof(range_t));
    lib->allowed_count = 0;
    for (size_t i = 0; i < count; i++)
    {
        const ElfW(Sym)* sym = &dyn->symtab[i];
        const char* name = dyn->strtab + sym->st_name;
        if (ELF64_ST_TYPE(sym->st_info) != STT_FUNC || sym->st_shndx == SHN_UNDEF || sym->st_size == 0)
            continue;
        // Managed code enters libSystem.Native only through its exports. ForkAndExecProcess runs code in a
        // vfork child, where the parent's managed state must not be touched.
        if (strncmp(name, "SystemNative_", 13) != 0 || strcmp(name, "SystemNative_ForkAndExecProcess") == 0)
            continue;
        range_t* r = &lib->allowed[lib->allowed_count++];
        r->start = info->dlpi_addr + sym->st_value;
        r->end = r->start + sym->st_size;
    }
    qsort(lib->allowed, (size_t)lib->allowed_count, sizeof(range_t), compare_ranges);
}

static int find_slot(void** got)
{
    for (int i = 0; i < g_slot_count; i++)
    {
        if (g_slots[i].got == got)
            return i;
    }
    return -1;
}

static void patch_relocations(int lib_index, uintptr_t base, const dynamic_t* dyn, const ElfW(Rela)* rels, size_t size)
{
    for (size_t i = 0; rels && i < size / sizeof(ElfW(Rela)); i++)
    {
        unsigned type = (unsigned)ELF64_R_TYPE(rels[i].r_info);
        // Function pointers stored in data (SQLite keeps its syscalls in such a table) are rebound too,
        // except in libSystem.Native, whose calls are filtered by caller.
        int data_pointer = type == R_ABS64 && rels[i].r_addend == 0 && !g_libs[lib_index].filtered;
        if (type != R_JUMP_SLOT && type != R_GLOB_DAT && !data_pointer)
            continue;
        const ElfW(Sym)* sym = &dyn->symtab[ELF64_R_SYM(rels[i].r_info)];
        if (sym->st_shndx != SHN_UNDEF)
            continue;
        const char* name = dyn->strtab + sym->st_name;
        int via_syscall = strcmp(name, "syscall") == 0;
        int nameinfo = strcmp(name, "getnameinfo") == 0;
        int symbol = symbol_index(via_syscall ? "copy_file_range" : name);
        if (symbol < 0)
            continue;
        void** got = (void**)(base + rels[i].r_offset);
        int index = find_slot(got);
        if (index >= 0 && g_slots[index].patched)
            continue;
        void* original = *got;
        const library_t* lib = &g_libs[lib_index];
        // A lazily bound slot still points into the library's own PLT, and the resolver would overwrite
        // the trampoline on the first call: bind it now to the global definition.
        if ((uintptr_t)original >= lib->text_start && (uintptr_t)original < lib->text_end)
            original = dlsym(RTLD_DEFAULT, name);
        if (original == NULL)
            continue;
        // A slot patched before keeps its index, so a call still in flight in its trampoline after a
        // restore and re-install finds the same original.
        if (index < 0)
        {
            if (g_slot_count >= MAX_SLOTS || (via_syscall && g_syscall_slot_count >= MAX_SYSCALL_SLOTS)
                || (nameinfo && g_nameinfo_slot_count >= MAX_NAMEINFO_SLOTS))
                continue;
            index = g_slot_count++;
        }
        if (via_syscall)
            g_real_syscall = (fn7_t)original;
        if (nameinfo)
            g_real_getnameinfo = (fn7_t)original;
        void* trampoline = via_syscall ? trampoline_for(index, g_syscall_slots, &g_syscall_slot_count, g_syscall_trampolines)
            : nameinfo ? trampoline_for(index, g_nameinfo_slots, &g_nameinfo_slot_count, g_nameinfo_trampolines)
            : (void*)g_trampolines[index];
        iotrace_slot* slot = &g_slots[index];
        slot->original = via_syscall ? (void*)syscall_copy_file_range : nameinfo ? (void*)getnameinfo_with_flags : original;
        slot->restore = original;
        slot->syscall_number = via_syscall ? SYS_copy_file_range : 0;
        slot->symbol = symbol;
        slot->library = lib_index;
        slot->got = got;
        slot->frame_pointers = lib->filtered;
        slot->patched = write_slot(lib, got, trampoline) == 0;
    }
}

static void* dlopen_hook(const char* file, int mode);

static void patch_dlopen(uintptr_t relro_start, uintptr_t relro_end, uintptr_t base, const dynamic_t* dyn)
{
    for (size_t i = 0; dyn->jmprel && i < dyn->jmprel_size / sizeof(ElfW(Rela)); i++)
    {
        const ElfW(Sym)* sym = &dyn->symtab[ELF64_R_SYM(dyn->jmprel[i].r_info)];
        if (strcmp(dyn->strtab + sym->st_name, "dlopen") != 0 || g_dlopen_slot_count >= 8)
            continue;
        void** got = (void**)(base + dyn->jmprel[i].r_offset);
        if (*got == (void*)dlopen_hook)
            continue;
        g_real_dlopen = *got;
        dlopen_slot_t* slot = &g_dlopen_slots[g_dlopen_slot_count];
        slot->got = got;
        slot->original = *got;
        slot->relro_start = relro_start;
        slot->relro_end = relro_end;
        if (write_slot_in(relro_start, relro_end, got, (void*)dlopen_hook) == 0)
            g_dlopen_slot_count++;
    }
}

// Puts the dlopen slots back, once neither the in-process backend nor a watch needs them. Returns the failures.
static int restore_dlopen(void)
{
    if (g_installed || g_load_callback != NULL)
        return 0;
    int failures = 0;
    for (int i = 0; i < g_dlopen_slot_count; i++)
        failures += write_slot_in(g_dlopen_slots[i].relro_start, g_dlopen_slots[i].relro_end, g_dlopen_slots[i].got, g_dlopen_slots[i].original) != 0;
    g_dlopen_slot_count = 0;
    return failures;
}

static void relro_of(struct dl_phdr_info* info, uintptr_t* start, uintptr_t* end)
{
    *start = *end = 0;
    for (int p = 0; p < info->dlpi_phnum; p++)
    {
        const ElfW(Phdr)* ph = &info->dlpi_phdr[p];
        if (ph->p_type == PT_GNU_RELRO)
        {
            long page = sysconf(_SC_PAGESIZE);
            *start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)(page - 1);
            *end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(uintptr_t)(page - 1);
        }
    }
}

static int ends_with(const char* text, const char* suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

static int known_library(const char* path)
{
    for (int i = 0; i < g_lib_count; i++)
    {
        if (strcmp(g_libs[i].path, path) == 0)
            return 1;
    }
    return 0;
}

static int visit_library(struct dl_phdr_info* info, size_t size, void* unused)
{
    (void)size;
    (void)unused;
    const char* path = info->dlpi_name;
    if (path == NULL || path[0] == '\0' || known_library(path))
        return 0;
    int is_system_native = ends_with(path, "/libSystem.Native.so");
    int is_runtime_loader = ends_with(path, "/libcoreclr.so");
    int is_app_library = g_app_dir[0] != '\0' && strncmp(path, g_app_dir, strlen(g_app_dir)) == 0
        && !ends_with(path, "/libIoTrace.Native.so");
    if (!is_system_native && !is_runtime_loader && !is_app_library)
        return 0;
    if (g_lib_count >= MAX_LIBS)
        return 0;

    dynamic_t dyn;
    read_dynamic(info, &dyn);
    if (!dyn.symtab || !dyn.strtab)
        return 0;

    int index = g_lib_count++;
    library_t* lib = &g_libs[index];
    memset(lib, 0, sizeof(*lib));
    strncpy(lib->path, path, sizeof(lib->path) - 1);
    lib->base = info->dlpi_addr;
    for (int p = 0; p < info->dlpi_phnum; p++)
    {
        const ElfW(Phdr)* ph = &info->dlpi_phdr[p];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
        {
            lib->text_start = info->dlpi_addr + ph->p_vaddr;
            lib->text_end = lib->text_start + ph->p_memsz;
        }
    }
    relro_of(info, &lib->relro_start, &lib->relro_end);

    // The runtime's loader (and System.Native, which also loads libraries) gets a dlopen hook so that
    // libraries loaded later are patched before their first call.
    if (is_runtime_loader || is_system_native)
        patch_dlopen(lib->relro_start, lib->relro_end, info->dlpi_addr, &dyn);
    if (is_runtime_loader)
        return 0;

    if (is_system_native)
    {
        lib->filtered = 1;
        collect_allowed_ranges(lib, info, &dyn);
    }
    patch_relocations(index, info->dlpi_addr, &dyn, dyn.jmprel, dyn.jmprel_size);
    patch_relocations(index, info->dlpi_addr, &dyn, dyn.rela, dyn.rela_size);
    return 0;
}

static int read_adds(struct dl_phdr_info* info, size_t size, void* data)
{
    (void)size;
    *(unsigned long long*)data = info->dlpi_adds;
    return 1;
}

static void patch_new_libraries(void)
{
    unsigned long long adds = 0;
    dl_iterate_phdr(read_adds, &adds);
    if (adds == g_seen_adds)
        return;
    g_seen_adds = adds;
    dl_iterate_phdr(visit_library, NULL);
}

static int under_watch_dir(const char* path)
{
    return g_watch_dir[0] != '\0' && strncmp(path, g_watch_dir, strlen(g_watch_dir)) == 0
        && !ends_with(path, "/libIoTrace.Native.so");
}

typedef struct
{
    char path[512];
} found_t;

// Finds a library under the watched folder not seen before (marking it seen); with found NULL, marks all of them seen.
static int find_unseen(struct dl_phdr_info* info, size_t size, void* data)
{
    (void)size;
    found_t* found = data;
    if (info->dlpi_name == NULL || !under_watch_dir(info->dlpi_name))
        return 0;
    for (int i = 0; i < g_watch_seen_count; i++)
    {
        if (g_watch_seen[i] == info->dlpi_addr)
            return 0;
    }
    if (g_watch_seen_count >= MAX_LIBS)
        return 0;
    g_watch_seen[g_watch_seen_count++] = info->dlpi_addr;
    if (found == NULL)
        return 0;
    strncpy(found->path, info->dlpi_name, sizeof(found->path) - 1);
    return 1;
}

static void* dlopen_hook(const char* file, int mode)
{
    void* handle = g_real_dlopen(file, mode);
    if (handle == NULL || (!g_installed && g_load_callback == NULL))
        return handle;

    found_t found;
    memset(&found, 0, sizeof(found));
    load_callback_t callback = NULL;
    pthread_mutex_lock(&g_lock);
    if (g_installed)
        patch_new_libraries();
    if (g_load_callback != NULL)
    {
        unsigned long long adds = 0;
        dl_iterate_phdr(read_adds, &adds);
        if (adds != g_watch_adds)
        {
            g_watch_adds = adds;
            callback = g_load_callback;
            dl_iterate_phdr(find_unseen, &found);
        }
    }
    pthread_mutex_unlock(&g_lock);
    // Outside the lock: the callback runs managed code, which may load libraries itself. One call is enough when
    // a library brought others of the folder with it: the callback learns every library of the folder it finds.
    if (callback != NULL && found.path[0] != '\0')
        callback(found.path);
    return handle;
}

static int visit_loader(struct dl_phdr_info* info, size_t size, void* unused)
{
    (void)size;
    (void)unused;
    const char* path = info->dlpi_name;
    if (path == NULL || (!ends_with(path, "/libSystem.Native.so") && !ends_with(path, "/libcoreclr.so")))
        return 0;
    dynamic_t dyn;
    read_dynamic(info, &dyn);
    if (!dyn.symtab || !dyn.strtab)
        return 0;
    uintptr_t relro_start, relro_end;
    relro_of(info, &relro_start, &relro_end);
    patch_dlopen(relro_start, relro_end, info->dlpi_addr, &dyn);
    return 0;
}

// A kernel backend's watch: callback(path) runs on the loading thread, after dlopen and before it returns, for
// each library that appears under app_dir (libraries there now are not reported). NULL ends the watch. Only the
// runtime's loader and System.Native's are watched: the runtime loads P/Invoke targets in preemptive mode, where
// calling into managed code is allowed. Returns the number of dlopen slots hooked.
IOTRACE_EXPORT int iotrace_watch_loads(void* callback, const char* app_dir)
{
    pthread_mutex_lock(&g_lock);
    g_load_callback = NULL;
    memset(g_watch_dir, 0, sizeof(g_watch_dir));
    g_watch_seen_count = 0;
    if (callback != NULL && app_dir != NULL)
    {
        strncpy(g_watch_dir, app_dir, sizeof(g_watch_dir) - 1);
        dl_iterate_phdr(read_adds, &g_watch_adds);
        dl_iterate_phdr(find_unseen, NULL);
        dl_iterate_phdr(visit_loader, NULL);
        g_load_callback = (load_callback_t)callback;
    }
    else
    {
        restore_dlopen();
    }
    int count = g_dlopen_slot_count;
    pthread_mutex_unlock(&g_lock);
    return count;
}

// Patches libSystem.Native and the native libraries under app_dir (now and when loaded later).
// symbols: the import names to hook; hook: the managed entry point. Returns the number of slots known.
IOTRACE_EXPORT int iotrace_install(const char* const* symbols, int symbol_count, void* hook, const char* app_dir)
{
    pthread_mutex_lock(&g_lock);
    if (!g_installed)
    {
        for (int i = 0; i < g_symbol_count; i++)
            free(g_symbols[i]);
        g_symbol_count = 0;
        for (int i = 0; i < symbol_count && i < MAX_SYMBOLS; i++)
            g_symbols[g_symbol_count++] = strdup(symbols[i]);
        memset(g_app_dir, 0, sizeof(g_app_dir));
        if (app_dir != NULL)
            strncpy(g_app_dir, app_dir, sizeof(g_app_dir) - 1);
        g_hook = (managed_hook_t)hook;
        g_seen_adds = 0;
        g_installed = 1;
        patch_new_libraries();
    }
    int count = g_slot_count;
    pthread_mutex_unlock(&g_lock);
    return count;
}

// Puts every patched slot back to its original target. Trampolines stay in memory for calls in flight.
IOTRACE_EXPORT int iotrace_uninstall(void)
{
    pthread_mutex_lock(&g_lock);
    int failures = 0;
    g_installed = 0;
    failures += restore_dlopen();
    for (int i = 0; i < g_slot_count; i++)
    {
        if (!g_slots[i].patched)
            continue;
        if (write_slot(&g_libs[g_slots[i].library], g_slots[i].got, g_slots[i].restore) == 0)
            g_slots[i].patched = 0;
        else
            failures++;
    }
    // Slots keep their data: a call that entered a trampoline before the restore still finds its original.
    for (int i = 0; i < g_lib_count; i++)
        free(g_libs[i].allowed);
    g_lib_count = 0;
    pthread_mutex_unlock(&g_lock);
    return failures;
}

IOTRACE_EXPORT volatile int* iotrace_active_counter(void)
{
    return &g_active;
}

IOTRACE_EXPORT int iotrace_slot_count(void)
{
    return g_slot_count;
}

IOTRACE_EXPORT iotrace_slot* iotrace_slot_at(int index)
{
    return index >= 0 && index < g_slot_count ? &g_slots[index] : NULL;
}

IOTRACE_EXPORT const char* iotrace_library_path(int index)
{
    return index >= 0 && index < g_lib_count ? g_libs[index].path : NULL;
}

static __thread uintptr_t t_stack_top;

// A cheap identity of the current call path: a hash of the return addresses on the frame-pointer chain
// (JIT code and libSystem.Native keep frame pointers). *frames receives how many frames were walked.
IOTRACE_EXPORT __attribute__((noinline)) uint64_t iotrace_callsite_key(int* frames)
{
    uintptr_t* fp = (uintptr_t*)__builtin_frame_address(0);
    if (t_stack_top == 0)
    {
        pthread_attr_t attr;
        void* address;
        size_t size;
        if (pthread_getattr_np(pthread_self(), &attr) == 0)
        {
            if (pthread_attr_getstack(&attr, &address, &size) == 0)
                t_stack_top = (uintptr_t)address + size;
            pthread_attr_destroy(&attr);
        }
        if (t_stack_top == 0)
            t_stack_top = (uintptr_t)fp + 1024 * 1024;
    }
    uint64_t hash = 14695981039346656037ULL;
    int n = 0;
    uintptr_t low = (uintptr_t)fp;
    while (n < MAX_FRAMES && ((uintptr_t)fp & 7) == 0 && (uintptr_t)fp >= low && (uintptr_t)(fp + 2) <= t_stack_top)
    {
        uintptr_t ret = fp[1];
        uintptr_t* next = (uintptr_t*)fp[0];
        hash = (hash ^ ret) * 1099511628211ULL;
        n++;
        if (next <= fp)
            break;
        fp = next;
    }
    *frames = n;
    return hash ^ (uint64_t)n;
}

IOTRACE_EXPORT int64_t iotrace_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
