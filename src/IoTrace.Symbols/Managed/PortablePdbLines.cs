using System.Collections.Concurrent;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace IoTrace.Symbols.Managed;

/// <summary>
/// Maps (assembly, method token, IL offset) to a source file and line through the assembly's portable PDB: the
/// .pdb next to it (or where its debug directory points) or the one embedded in it. Each assembly's PDB is opened
/// once, lazily, and each method's sequence points are decoded once into a <see cref="MethodLines"/>, so repeated
/// lookups are a binary search without allocation. Never throws: a missing or unreadable PDB means no lines.
/// </summary>
internal sealed class PortablePdbLines : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<PdbFile?>> _byAssemblyPath = new(StringComparer.Ordinal);
    private volatile bool _disposed;

    /// <summary>The source line of <paramref name="ilOffset"/> in <paramref name="method"/>.</summary>
    public bool TryGetLine(MethodBase method, int ilOffset, out string? file, out int line)
    {
        file = null;
        line = 0;
        try
        {
            var path = method.Module.FullyQualifiedName;
            return Path.IsPathFullyQualified(path)
                && GetMethodLines(path, method.MetadataToken) is { } lines
                && lines.TryFind(ilOffset, out file, out line);
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// The sequence points of the method <paramref name="methodToken"/> (a MethodDef token) in the assembly at
    /// <paramref name="assemblyPath"/>; null without a PDB or without points for the method.
    /// </summary>
    public MethodLines? GetMethodLines(string assemblyPath, int methodToken)
    {
        if (_disposed || MetadataTokens.EntityHandle(methodToken) is not { Kind: HandleKind.MethodDefinition } handle)
        {
            return null;
        }

        var pdb = _byAssemblyPath.GetOrAdd(assemblyPath, static path => new Lazy<PdbFile?>(() => PdbFile.TryOpen(path))).Value;
        return pdb?.GetMethodLines((MethodDefinitionHandle)handle);
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var entry in _byAssemblyPath.Values)
        {
            if (entry.IsValueCreated)
            {
                entry.Value?.Dispose();
            }
        }
    }

    /// <summary>One assembly's portable PDB and the methods decoded from it so far.</summary>
    private sealed class PdbFile : IDisposable
    {
        private static readonly MethodLines s_none = new([], [], []);

        private readonly MetadataReaderProvider _provider;
        private readonly MetadataReader _reader;
        private readonly ConcurrentDictionary<MethodDefinitionHandle, MethodLines> _methods = new();
        private readonly ConcurrentDictionary<DocumentHandle, string> _documents = new();
        private readonly Lock _gate = new();

        private PdbFile(MetadataReaderProvider provider)
        {
            _provider = provider;
            _reader = provider.GetMetadataReader();
        }

        public static PdbFile? TryOpen(string assemblyPath)
        {
            try
            {
                using var stream = File.OpenRead(assemblyPath);
                using var pe = new PEReader(stream);

                // Embedded first, then the CodeView path and the directory of the assembly; the PDB id is checked.
                if (pe.TryOpenAssociatedPortablePdb(assemblyPath, OpenInMemory, out var provider, out _) && provider is not null)
                {
                    return new PdbFile(provider);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or BadImageFormatException or InvalidOperationException or ArgumentException)
            {
            }

            return null;
        }

        // The provider reads the whole file now, so no file handle stays open for the life of the process.
        private static MemoryStream? OpenInMemory(string path)
        {
            try
            {
                return File.Exists(path) ? new MemoryStream(File.ReadAllBytes(path), writable: false) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }

        public MethodLines? GetMethodLines(MethodDefinitionHandle handle)
        {
            if (!_methods.TryGetValue(handle, out var lines))
            {
                lines = _methods.GetOrAdd(handle, Decode(handle));
            }

            return ReferenceEquals(lines, s_none) ? null : lines;
        }

        private MethodLines Decode(MethodDefinitionHandle handle)
        {
            try
            {
                // The reader is safe for concurrent reads; the lock only keeps Dispose from racing a decode.
                lock (_gate)
                {
                    var debugInfo = _reader.GetMethodDebugInformation(handle);
                    var ilOffsets = new List<int>();
                    var files = new List<string>();
                    var lineNumbers = new List<int>();
                    foreach (var point in debugInfo.GetSequencePoints())
                    {
                        if (point.IsHidden)
                        {
                            continue;
                        }

                        ilOffsets.Add(point.Offset);
                        files.Add(_documents.GetOrAdd(point.Document, d => _reader.GetString(_reader.GetDocument(d).Name)));
                        lineNumbers.Add(point.StartLine);
                    }

                    return ilOffsets.Count == 0 ? s_none : new MethodLines([.. ilOffsets], [.. files], [.. lineNumbers]);
                }
            }
            catch (Exception e) when (e is BadImageFormatException or InvalidOperationException or ArgumentException or ObjectDisposedException)
            {
                return s_none;
            }
        }

        public void Dispose()
        {
            lock (_gate)
            {
                _provider.Dispose();
            }
        }
    }
}

/// <summary>The visible sequence points of one method, by IL offset (the PDB stores them in IL order).</summary>
internal sealed class MethodLines
{
    private readonly int[] _ilOffsets;
    private readonly string[] _files;
    private readonly int[] _lines;

    internal MethodLines(int[] ilOffsets, string[] files, int[] lines)
    {
        _ilOffsets = ilOffsets;
        _files = files;
        _lines = lines;
    }

    /// <summary>
    /// The line of the sequence point with the greatest IL offset not above <paramref name="ilOffset"/> (what the
    /// runtime's own StackTrace reports); false for a negative offset or one before the first point.
    /// </summary>
    public bool TryFind(int ilOffset, out string? file, out int line)
    {
        file = null;
        line = 0;
        if (ilOffset < 0)
        {
            return false;
        }

        var count = SortedSearch.CountAtOrBelow<int>(_ilOffsets, ilOffset);
        if (count == 0)
        {
            return false;
        }

        file = _files[count - 1];
        line = _lines[count - 1];
        return true;
    }
}
