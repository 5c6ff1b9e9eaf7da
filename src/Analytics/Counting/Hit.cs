namespace Analytics.Counting;

/// <summary>
/// One page view, ready to count: its site, the site's local day, the normalised path, the
/// referrer host (<see cref="DirectReferrer"/> for none) and the visitor's salted hash (0 when unknown).
/// </summary>
internal readonly record struct Hit(string Site, DateOnly Day, string Path, string Referrer, ulong Visitor)
{
    public const string DirectReferrer = "(direct)";
}
