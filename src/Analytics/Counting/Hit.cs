namespace Analytics.Counting;

/// <summary>
/// One page view, ready to count: its site, the site's local day, the normalised path, the
/// referrer host (<see cref="DirectReferrer"/> for none), the visitor's salted hash (0 when unknown)
/// and the generation of the site it was checked against (<see cref="RedisKeys.Generation"/>).
/// </summary>
internal readonly record struct Hit(string Site, DateOnly Day, string Path, string Referrer, ulong Visitor, string Generation = "")
{
    public const string DirectReferrer = "(direct)";
}
