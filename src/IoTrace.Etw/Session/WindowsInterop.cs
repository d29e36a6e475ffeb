using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IoTrace.Platform.Linux;

namespace IoTrace.Etw.Session;

/// <summary>What the ETW backend asks Windows for outside the session: the thread id events carry, drives, images.</summary>
[SupportedOSPlatform("windows")]
internal static partial class WindowsInterop
{
    /// <summary>The calling thread's OS id, as ETW events carry it.</summary>
    public static int CurrentThreadId() => (int)GetCurrentThreadId();

    /// <summary>
    /// The device each drive letter stands for (<c>\Device\HarddiskVolume3</c> -> <c>C:</c>): the kernel's events name
    /// files by device, people by drive.
    /// </summary>
    public static IReadOnlyList<(string Device, string Drive)> DriveDevices()
    {
        var devices = new List<(string, string)>();
        var buffer = new char[1024];
        foreach (var drive in Environment.GetLogicalDrives())
        {
            var letter = drive.TrimEnd('\\');
            var length = QueryDosDevice(letter, buffer, buffer.Length);
            if (length > 0)
            {
                // The first of the NUL-separated names is the current one.
                var names = new string(buffer, 0, (int)length);
                devices.Add((names[..names.IndexOf('\0', StringComparison.Ordinal)], letter));
            }
        }

        return devices;
    }

    /// <summary>The process's loaded images, for the attributor: code outside them is the runtime's (jitted, stubs).</summary>
    public static IEnumerable<FileMapping> Images()
    {
        using var process = Process.GetCurrentProcess();
        var images = new List<FileMapping>();
        foreach (ProcessModule module in process.Modules)
        {
            var start = (ulong)module.BaseAddress;
            images.Add(new FileMapping(start, start + (ulong)module.ModuleMemorySize, 0, module.FileName));
            module.Dispose();
        }

        return images;
    }

    [LibraryImport("kernel32.dll")]
    [SuppressGCTransition]
    private static partial uint GetCurrentThreadId();

    [LibraryImport("kernel32.dll", EntryPoint = "QueryDosDeviceW", StringMarshalling = StringMarshalling.Utf16)]
    private static partial uint QueryDosDevice(string deviceName, [Out] char[] targetPath, int max);
}
