using System.Collections.Concurrent;

namespace Analytics.Live;

/// <summary>How many connections of this node watch each site (all, and staff), so only watched sites are pushed.</summary>
internal sealed class LiveSubscriptions
{
    private readonly ConcurrentDictionary<string, int> _watchers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _staff = new(StringComparer.Ordinal);

    public static string CountsGroup(string site) => "counts:" + site;

    public static string StaffGroup(string site) => "staff:" + site;

    public IEnumerable<string> WatchedSites() => _watchers.Where(w => w.Value > 0).Select(w => w.Key);

    public bool IsWatched(string site) => _watchers.TryGetValue(site, out var n) && n > 0;

    public bool IsWatchedByStaff(string site) => _staff.TryGetValue(site, out var n) && n > 0;

    public void Add(string site, bool staff)
    {
        _watchers.AddOrUpdate(site, 1, (_, n) => n + 1);
        if (staff)
        {
            _staff.AddOrUpdate(site, 1, (_, n) => n + 1);
        }
    }

    public void Remove(string site, bool staff)
    {
        _watchers.AddOrUpdate(site, 0, (_, n) => Math.Max(0, n - 1));
        if (staff)
        {
            _staff.AddOrUpdate(site, 0, (_, n) => Math.Max(0, n - 1));
        }
    }
}
