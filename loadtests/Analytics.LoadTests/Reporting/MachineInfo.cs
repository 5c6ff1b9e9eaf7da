using System.Runtime.InteropServices;
using Analytics.LoadTests.Stack;

namespace Analytics.LoadTests.Reporting;

/// <summary>The machine a result was measured on.</summary>
internal sealed record MachineInfo(int Cores, string Cpu, string Memory, string Os, string Runtime, string Revision)
{
    public static MachineInfo Current() => new(
        Environment.ProcessorCount,
        CpuModel(),
        MemoryTotal(),
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        Repository.Revision());

    public string Describe() => $"{Cores} cores ({Cpu}), {Memory} RAM, {Os}, {Runtime}; repository at {Revision}";

    private static string CpuModel() => ProcLine("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();

    private static string MemoryTotal()
    {
        var line = ProcLine("/proc/meminfo", "MemTotal");
        return line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], out var kb)
            ? $"{kb / 1024.0 / 1024:0.0} GiB"
            : "unknown";
    }

    private static string? ProcLine(string file, string key)
    {
        try
        {
            return File.ReadLines(file)
                .Where(l => l.StartsWith(key, StringComparison.Ordinal))
                .Select(l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim())
                .FirstOrDefault();
        }
        catch (IOException)
        {
            return null;
        }
    }
}
