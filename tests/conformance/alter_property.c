/* Property test for ALTER CONNECTION (placeholder while being written). */
int main(void)
{
	return 0;
}
