namespace IoTrace.Etw.Translation;

/// <summary>
/// A kernel path (<c>\Device\HarddiskVolume3\app\data.json</c>) as people write it (<c>C:\app\data.json</c>), by the
/// devices the drive letters stand for.
/// </summary>
internal sealed class DevicePaths(IReadOnlyList<(string Device, string Drive)> drives)
{
    // Longest first: \Device\HarddiskVolume1 must not take \Device\HarddiskVolume10's paths.
    private readonly (string Device, string Drive)[] _drives = [.. drives.OrderByDescending(static d => d.Device.Length)];

    public string? ToDrivePath(string? kernelPath)
    {
        if (string.IsNullOrEmpty(kernelPath))
        {
            return null;
        }

        foreach (var (device, drive) in _drives)
        {
            if (kernelPath.StartsWith(device, StringComparison.OrdinalIgnoreCase) &&
                (kernelPath.Length == device.Length || kernelPath[device.Length] == '\\'))
            {
                return string.Concat(drive, kernelPath.AsSpan(device.Length));
            }
        }

        return kernelPath;
    }
}
